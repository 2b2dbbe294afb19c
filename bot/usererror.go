package bot

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/bakewise/chatops/policy"
)

// UserError is an error written for the person who asked: a missing piece
// of configuration, a name that does not exist, a state that forbids the
// action. Chat shows its text. Every other error is internal (a store, an
// API, a network): chat shows only a request id and the log holds the
// detail under the same id, so nothing internal (addresses, SQL, service
// account names) reaches a channel.
type UserError struct {
	Msg string
}

func (e *UserError) Error() string { return e.Msg }

// Tell is a UserError.
func Tell(format string, v ...any) error { return &UserError{Msg: fmt.Sprintf(format, v...)} }

// UserMessage is what chat may show of err: its text when its chain holds
// an error written for people (UserError, UsageError, NotFoundError,
// StaleError, policy.Refusal), and ok false for an internal error. The
// whole text is shown, so wrap a user error only with context of your own,
// never together with an internal one.
func UserMessage(err error) (msg string, ok bool) {
	var (
		ue *UserError
		us *UsageError
		nf *NotFoundError
		se *StaleError
		re *policy.Refusal
	)
	switch {
	case err == nil:
		return "", false
	case errors.As(err, &ue), errors.As(err, &us), errors.As(err, &nf), errors.As(err, &se), errors.As(err, &re):
		return err.Error(), true
	}
	return "", false
}

// requestSeq makes request ids unique in a process even when the system's
// random source fails.
var requestSeq atomic.Uint64

// NewRequestID names one failure in chat and in the log: 12 hex digits,
// short enough to read out on a call.
func NewRequestID() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return strconv.FormatInt(time.Now().UnixMilli()%1e9, 16) + strconv.FormatUint(requestSeq.Add(1), 16)
	}
	return hex.EncodeToString(b[:])
}

// InternalErrorText is what chat says of an internal error: what failed,
// the request id, and where the detail is.
func InternalErrorText(what, requestID string) string {
	return fmt.Sprintf("%s because of an internal error (request id %s); the details are in chatops' log.", what, requestID)
}

// InternalError is an internal error already logged, with its detail,
// under RequestID: whoever answers in chat names that id and does not log
// it again.
type InternalError struct {
	RequestID string
	Err       error
}

func (e *InternalError) Error() string { return e.Err.Error() }

func (e *InternalError) Unwrap() error { return e.Err }
