package discordstandin

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Route names of the interaction side, for Calls and FailNext.
const (
	RouteInteractionCallback = "interaction_callback" // POST   /interactions/{id}/{token}/callback
	RouteEditOriginal        = "edit_original"        // PATCH  /webhooks/{app}/{token}/messages/@original
	RouteDeleteOriginal      = "delete_original"      // DELETE /webhooks/{app}/{token}/messages/@original
	RouteFollowup            = "create_followup"      // POST   /webhooks/{app}/{token}
	// RouteBulkOverwriteGuildCommands replaces an application's commands
	// in one guild.
	RouteBulkOverwriteGuildCommands = "bulk_overwrite_guild_commands" // PUT /applications/{app}/guilds/{guild}/commands
)

// Interaction timing, as Discord enforces it: the first response within
// AckWindow of the interaction, the token usable for TokenLifetime.
const (
	AckWindow     = 3 * time.Second
	TokenLifetime = 15 * time.Minute
)

// Message flags the stand-in acts on.
const (
	FlagEphemeral = 64
	FlagLoading   = 128
)

// Interaction response types.
const (
	ResponsePong           = 1
	ResponseMessage        = 4
	ResponseDeferred       = 5
	ResponseDeferredUpdate = 6
	ResponseUpdate         = 7
	ResponseAutocomplete   = 8
	ResponseModal          = 9
)

// Discord error codes of the interaction side.
const (
	codeUnknownWebhook      = 10015
	codeUnknownInteraction  = 10062
	codeEntityTooLarge      = 40005
	codeAlreadyAcknowledged = 40060
)

// Limits on interaction responses and registered commands.
const (
	limitChoices      = 25
	limitChoiceText   = 100
	limitFiles        = 10
	limitFileSize     = 10 << 20 // Discord's upload limit without boosts
	limitCommands     = 100      // chat-input commands per guild
	limitOptions      = 25
	limitCommandName  = 32
	limitCommandDesc  = 100
	limitCommandTotal = 4000 // name, description and choice characters of one command, all levels
	maxSafeInteger    = 1 << 53
)

// Attachment is a file sent with a message.
type Attachment struct {
	Filename    string
	ContentType string
	Content     []byte
}

// Choice is one autocomplete choice.
type Choice struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

// Callback is one initial response received for an interaction.
type Callback struct {
	Type  int
	Flags int
	// Data is the response's data object as sent.
	Data    json.RawMessage
	Choices []Choice
	At      time.Time
	// Accepted is false for a response Discord refuses: one after the
	// acknowledgement window, or a second one.
	Accepted bool
}

// Interaction is what the stand-in knows of one interaction.
type Interaction struct {
	ID, Token, AppID, Channel string
	Created                   time.Time
	Callbacks                 []Callback
	// Original is the response message (nil before a message-bearing
	// response, or once deleted).
	Original        *Message
	OriginalDeleted bool
	Followups       []Message
	// FollowupsAsEdit counts follow-ups Discord turned into an edit of the
	// deferred original (and whose ephemeral flag it ignored).
	FollowupsAsEdit int
}

// Acknowledged reports whether Discord accepted a response.
func (ix Interaction) Acknowledged() bool {
	for _, c := range ix.Callbacks {
		if c.Accepted {
			return true
		}
	}
	return false
}

type interaction struct {
	Interaction
	acked     bool
	ackType   int
	original  *message
	followups []*message
}

// NewInteraction makes the stand-in expect an interaction of application
// appID used in channel (a thread id for a thread), as Discord does when
// it sends one to a bot, and returns its id and token.
func (s *Server) NewInteraction(appID, channel string) (id, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	id = s.nextID(now)
	var b [24]byte
	_, _ = rand.Read(b[:])
	token = "aW50ZXJhY3Rpb246" + hex.EncodeToString(b[:])
	ix := &interaction{Interaction: Interaction{ID: id, Token: token, AppID: appID, Channel: channel, Created: now}}
	s.interactions[id] = ix
	s.byToken[token] = ix
	return id, token
}

// AgeInteraction moves an interaction's creation back by d, to play a
// response that comes late.
func (s *Server) AgeInteraction(id string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ix, ok := s.interactions[id]; ok {
		ix.Created = ix.Created.Add(-d)
	}
}

// Interaction returns what the stand-in knows of an interaction.
func (s *Server) Interaction(id string) (Interaction, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ix, ok := s.interactions[id]
	if !ok {
		return Interaction{}, false
	}
	out := ix.Interaction
	out.Callbacks = slices.Clone(ix.Callbacks)
	if ix.original != nil {
		m := ix.original.snapshot()
		out.Original = &m
	}
	for _, f := range ix.followups {
		out.Followups = append(out.Followups, f.snapshot())
	}
	return out, true
}

// RegisteredCommands returns the commands last registered for app in
// guild, as sent (a JSON array), or nil.
func (s *Server) RegisteredCommands(app, guild string) json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.commands[app+"/"+guild])
}

var (
	reCallback       = regexp.MustCompile(`^` + apiPrefix + `interactions/([^/]+)/([^/]+)/callback$`)
	reWebhookMessage = regexp.MustCompile(`^` + apiPrefix + `webhooks/([^/]+)/([^/]+)/messages/@original$`)
	reWebhook        = regexp.MustCompile(`^` + apiPrefix + `webhooks/([^/]+)/([^/]+)$`)
	reGuildCommands  = regexp.MustCompile(`^` + apiPrefix + `applications/([^/]+)/guilds/([^/]+)/commands$`)
)

func parseInteractionRoute(method, path string) (request, bool) {
	if m := reCallback.FindStringSubmatch(path); m != nil && method == http.MethodPost {
		return request{route: RouteInteractionCallback, interactionID: m[1], token: m[2], interaction: true, tokenInPath: true, uploads: true}, true
	}
	if m := reWebhookMessage.FindStringSubmatch(path); m != nil {
		switch method {
		case http.MethodPatch:
			return request{route: RouteEditOriginal, app: m[1], token: m[2], interaction: true, tokenInPath: true, uploads: true}, true
		case http.MethodDelete:
			return request{route: RouteDeleteOriginal, app: m[1], token: m[2], interaction: true, tokenInPath: true}, true
		}
	}
	if m := reWebhook.FindStringSubmatch(path); m != nil && method == http.MethodPost {
		return request{route: RouteFollowup, app: m[1], token: m[2], interaction: true, tokenInPath: true, uploads: true}, true
	}
	if m := reGuildCommands.FindStringSubmatch(path); m != nil && method == http.MethodPut {
		return request{route: RouteBulkOverwriteGuildCommands, app: m[1], guild: m[2], interaction: true}, true
	}
	return request{}, false
}

// handleInteraction runs one request of the interaction side.
func (s *Server) handleInteraction(w http.ResponseWriter, r *http.Request, rq request, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	var e *apiError
	switch rq.route {
	case RouteInteractionCallback:
		e = s.callback(w, r, rq, body, now)
	case RouteEditOriginal:
		e = s.editOriginal(w, r, rq, body, now)
	case RouteDeleteOriginal:
		e = s.deleteOriginal(w, rq, now)
	case RouteFollowup:
		e = s.followup(w, r, rq, body, now)
	case RouteBulkOverwriteGuildCommands:
		e = s.bulkOverwrite(w, rq, body)
	}
	if e != nil {
		writeError(w, e)
	}
}

// responseBody is an interaction response, or a webhook message (whose
// fields are those of the response's data).
type responseBody struct {
	Type int          `json:"type"`
	Data *messageData `json:"data"`
}

type messageData struct {
	Content         *string         `json:"content"`
	Embeds          json.RawMessage `json:"embeds"`
	Components      json.RawMessage `json:"components"`
	AllowedMentions json.RawMessage `json:"allowed_mentions"`
	Flags           int             `json:"flags"`
	Choices         []Choice        `json:"choices"`
}

// decodeUpload reads a JSON body, or a multipart one (payload_json and
// files[n]) as Discord accepts with attachments.
func decodeUpload(r *http.Request, body []byte, v any) ([]Attachment, *apiError) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return nil, decodeBody(body, v)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var (
		files   []Attachment
		payload bool
	)
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &apiError{status: http.StatusBadRequest, code: codeInvalidFormBody, message: "Invalid Form Body"}
		}
		content, err := io.ReadAll(io.LimitReader(p, limitFileSize+1))
		if err != nil {
			return nil, &apiError{status: http.StatusBadRequest, code: codeInvalidFormBody, message: "Invalid Form Body"}
		}
		switch name := p.FormName(); {
		case name == "payload_json":
			if e := decodeBody(content, v); e != nil {
				return nil, e
			}
			payload = true
		case strings.HasPrefix(name, "files["):
			if len(content) > limitFileSize {
				return nil, &apiError{status: http.StatusRequestEntityTooLarge, code: codeEntityTooLarge, message: "Request entity too large"}
			}
			if p.FileName() == "" {
				return nil, formError("files", "BASE_TYPE_REQUIRED", "A file needs a name")
			}
			files = append(files, Attachment{Filename: p.FileName(), ContentType: p.Header.Get("Content-Type"), Content: content})
		}
	}
	if !payload {
		return nil, formError("payload_json", "BASE_TYPE_REQUIRED", "This field is required")
	}
	if len(files) > limitFiles {
		return nil, formError("files", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
	}
	return files, nil
}

func (s *Server) callback(w http.ResponseWriter, r *http.Request, rq request, body []byte, now time.Time) *apiError {
	ix := s.interactions[rq.interactionID]
	if ix == nil || ix.Token != rq.token {
		return &apiError{status: http.StatusNotFound, code: codeUnknownInteraction, message: "Unknown interaction"}
	}
	var in responseBody
	files, e := decodeUpload(r, body, &in)
	if e != nil {
		return e
	}
	cb := Callback{Type: in.Type, At: now}
	if in.Data != nil {
		cb.Flags, cb.Choices = in.Data.Flags, in.Data.Choices
		cb.Data, _ = json.Marshal(in.Data)
	}
	switch {
	case now.Sub(ix.Created) > AckWindow:
		ix.Callbacks = append(ix.Callbacks, cb)
		return &apiError{status: http.StatusNotFound, code: codeUnknownInteraction, message: "Unknown interaction"}
	case ix.acked:
		ix.Callbacks = append(ix.Callbacks, cb)
		return &apiError{status: http.StatusBadRequest, code: codeAlreadyAcknowledged, message: "Interaction has already been acknowledged."}
	}
	switch in.Type {
	case ResponseMessage:
		m, e := s.newResponseMessage(ix, in.Data, files, now)
		if e != nil {
			return e
		}
		ix.original = m
	case ResponseDeferred:
		flags := FlagLoading
		if in.Data != nil {
			flags |= in.Data.Flags & FlagEphemeral
		}
		ix.original = s.storeInteractionMessage(ix, &message{Message: Message{
			ChannelID: ix.Channel, Created: now, Flags: flags,
			Embeds: json.RawMessage("[]"), Components: json.RawMessage("[]"), AllowedMentions: json.RawMessage("null"),
		}}, now)
	case ResponseAutocomplete:
		if in.Data == nil {
			return formError("data", "BASE_TYPE_REQUIRED", "This field is required")
		}
		if len(in.Data.Choices) > limitChoices {
			return formError("data.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
		}
		for i, c := range in.Data.Choices {
			p := "data.choices." + strconv.Itoa(i)
			if n := len([]rune(c.Name)); n < 1 || n > limitChoiceText {
				return formError(p+".name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
			}
			if v, ok := c.Value.(string); ok && len([]rune(v)) > limitChoiceText {
				return formError(p+".value", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
			}
		}
	case ResponseDeferredUpdate, ResponseUpdate, ResponseModal:
	default:
		// PONG exists only as the answer to an HTTP PING, never here.
		return formError("type", "BASE_TYPE_CHOICES", "Value must be one of {4, 5, 6, 7, 8, 9, 10}.")
	}
	cb.Accepted = true
	ix.Callbacks = append(ix.Callbacks, cb)
	ix.acked, ix.ackType = true, in.Type
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// webhookInteraction finds the interaction behind a webhook route: the
// token must be known, of the application in the path, and not expired.
func (s *Server) webhookInteraction(rq request, now time.Time) (*interaction, *apiError) {
	ix := s.byToken[rq.token]
	if ix == nil || ix.AppID != rq.app || now.Sub(ix.Created) > TokenLifetime || !ix.acked {
		// Discord knows no webhook for a token until the interaction is
		// acknowledged, nor after the token expires.
		return nil, &apiError{status: http.StatusNotFound, code: codeUnknownWebhook, message: "Unknown Webhook"}
	}
	return ix, nil
}

func (s *Server) editOriginal(w http.ResponseWriter, r *http.Request, rq request, body []byte, now time.Time) *apiError {
	ix, e := s.webhookInteraction(rq, now)
	if e != nil {
		return e
	}
	if ix.original == nil {
		return &apiError{status: http.StatusNotFound, code: codeUnknownMessage, message: "Unknown Message"}
	}
	var in messageData
	files, e := decodeUpload(r, body, &in)
	if e != nil {
		return e
	}
	if e := editInteractionMessage(ix.original, &in, files, now); e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, s.wire(ix.original))
	return nil
}

func (s *Server) deleteOriginal(w http.ResponseWriter, rq request, now time.Time) *apiError {
	ix, e := s.webhookInteraction(rq, now)
	if e != nil {
		return e
	}
	if ix.original == nil {
		return &apiError{status: http.StatusNotFound, code: codeUnknownMessage, message: "Unknown Message"}
	}
	s.dropMessage(ix.original)
	ix.original = nil
	ix.OriginalDeleted = true
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) followup(w http.ResponseWriter, r *http.Request, rq request, body []byte, now time.Time) *apiError {
	ix, e := s.webhookInteraction(rq, now)
	if e != nil {
		return e
	}
	if ix.ackType == ResponseAutocomplete {
		return &apiError{status: http.StatusNotFound, code: codeUnknownWebhook, message: "Unknown Webhook"}
	}
	var in messageData
	files, e := decodeUpload(r, body, &in)
	if e != nil {
		return e
	}
	var m *message
	if ix.original != nil && ix.original.Flags&FlagLoading != 0 {
		// Discord's documented quirk: the first follow-up after a deferred
		// response edits the loading message instead, and keeps the
		// deferral's visibility whatever flags the follow-up asks for.
		if e := editInteractionMessage(ix.original, &in, files, now); e != nil {
			return e
		}
		ix.FollowupsAsEdit++
		m = ix.original
	} else {
		if m, e = s.newResponseMessage(ix, &in, files, now); e != nil {
			return e
		}
		ix.followups = append(ix.followups, m)
	}
	if r.URL.Query().Get("wait") != "true" {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	writeJSON(w, http.StatusOK, s.wire(m))
	return nil
}

// newResponseMessage creates a message an interaction sends: in its
// channel when public, only in the interaction when ephemeral.
func (s *Server) newResponseMessage(ix *interaction, in *messageData, files []Attachment, now time.Time) (*message, *apiError) {
	if in == nil {
		in = &messageData{}
	}
	m := &message{Message: Message{ChannelID: ix.Channel, Created: now, Flags: in.Flags & FlagEphemeral, Attachments: files}}
	if in.Content != nil {
		m.Content = *in.Content
	}
	m.Embeds, m.Components, m.AllowedMentions = orEmpty(in.Embeds), orEmpty(in.Components), orNull(in.AllowedMentions)
	if e := validateMessage(m.Content, m.Embeds, m.Components, m.AllowedMentions, len(files) > 0); e != nil {
		return nil, e
	}
	m.MentionRoles, m.MentionEveryone = mentions(m.Content, m.AllowedMentions)
	return s.storeInteractionMessage(ix, m, now), nil
}

func (s *Server) storeInteractionMessage(ix *interaction, m *message, now time.Time) *message {
	m.ID = s.nextID(now)
	if m.Flags&FlagEphemeral == 0 {
		s.messages[m.ID] = m
		s.byChannel[ix.Channel] = append(s.byChannel[ix.Channel], m)
		if t, ok := s.threads[ix.Channel]; ok {
			t.Archived = false
		}
	}
	return m
}

func (s *Server) dropMessage(m *message) {
	delete(s.messages, m.ID)
	list := s.byChannel[m.ChannelID]
	if i := slices.Index(list, m); i >= 0 {
		s.byChannel[m.ChannelID] = slices.Delete(list, i, i+1)
	}
}

// editInteractionMessage applies a webhook edit: the fields sent replace
// the message's, new files are added, and a loading message is loaded.
func editInteractionMessage(m *message, in *messageData, files []Attachment, now time.Time) *apiError {
	content, embeds, components, am := m.Content, m.Embeds, m.Components, m.AllowedMentions
	if in.Content != nil {
		content = *in.Content
	}
	if in.Embeds != nil {
		embeds = orEmpty(in.Embeds)
	}
	if in.Components != nil {
		components = orEmpty(in.Components)
	}
	if in.AllowedMentions != nil {
		am = orNull(in.AllowedMentions)
	}
	attachments := append(slices.Clone(m.Attachments), files...)
	if len(attachments) > limitFiles {
		return formError("files", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
	}
	if e := validateMessage(content, embeds, components, am, len(attachments) > 0); e != nil {
		return e
	}
	m.Content, m.Embeds, m.Components, m.AllowedMentions, m.Attachments = content, embeds, components, am, attachments
	m.Flags &^= FlagLoading
	m.Edits++
	t := now
	m.edited = &t
	return nil
}

type wireAttachment struct {
	ID          string `json:"id"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type,omitempty"`
	Size        int    `json:"size"`
	URL         string `json:"url"`
}

// command is an application command as registered.
type command struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Type        int      `json:"type"`
	Options     []option `json:"options"`
}

type option struct {
	Type         int      `json:"type"`
	Name         string   `json:"name"`
	Description  string   `json:"description"`
	Required     bool     `json:"required"`
	Options      []option `json:"options"`
	Autocomplete bool     `json:"autocomplete"`
	Choices      []Choice `json:"choices"`
	MinValue     *float64 `json:"min_value"`
	MaxValue     *float64 `json:"max_value"`
	MinLength    *int     `json:"min_length"`
	MaxLength    *int     `json:"max_length"`
}

// Option types.
const (
	optSubCommand      = 1
	optSubCommandGroup = 2
	optString          = 3
	optInteger         = 4
	optBoolean         = 5
	optNumber          = 10
	optAttachment      = 11
)

// reCommandName is Discord's rule for command and option names.
var reCommandName = regexp.MustCompile(`^[-_\p{L}\p{N}\p{Devanagari}\p{Thai}]{1,32}$`)

func (s *Server) bulkOverwrite(w http.ResponseWriter, rq request, body []byte) *apiError {
	if !isSnowflake(rq.app) || !isSnowflake(rq.guild) {
		return &apiError{status: http.StatusNotFound, code: 10002, message: "Unknown Application"}
	}
	var cmds []command
	if e := decodeBody(body, &cmds); e != nil {
		return e
	}
	f := formErrors{}
	if len(cmds) > limitCommands {
		f.add("_root", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
	}
	seen := map[string]bool{}
	for i, c := range cmds {
		p := strconv.Itoa(i)
		if c.Type != 0 && c.Type != 1 {
			continue // user and message commands: not checked
		}
		checkName(f, p+".name", c.Name)
		if seen[c.Name] {
			f.add(p+".name", "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique")
		}
		seen[c.Name] = true
		checkDescription(f, p+".description", c.Description)
		total := len([]rune(c.Name)) + len([]rune(c.Description))
		total += checkOptions(f, p+".options", c.Options, 0)
		if total > limitCommandTotal {
			f.add(p, "APPLICATION_COMMAND_TOO_LARGE", "Command exceeds maximum size (4000)")
		}
	}
	if len(f) > 0 {
		return &apiError{status: http.StatusBadRequest, code: codeInvalidFormBody, message: "Invalid Form Body", errors: f}
	}
	s.commands[rq.app+"/"+rq.guild] = slices.Clone(body)
	var out []map[string]any
	_ = json.Unmarshal(body, &out) // decoded above
	now := time.Now()
	for _, c := range out {
		c["id"] = s.nextID(now)
		c["application_id"] = rq.app
		c["guild_id"] = rq.guild
		c["version"] = s.nextID(now)
		if _, ok := c["type"]; !ok {
			c["type"] = 1
		}
	}
	if out == nil {
		out = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func checkName(f formErrors, path, name string) {
	if !reCommandName.MatchString(name) || strings.ToLower(name) != name {
		f.add(path, "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
	}
}

func checkDescription(f formErrors, path, d string) {
	if n := len([]rune(d)); n < 1 || n > limitCommandDesc {
		f.add(path, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
	}
}

// checkOptions checks one level of options (depth 0: the command's own)
// and returns the characters they count towards the command's total.
func checkOptions(f formErrors, path string, opts []option, depth int) int {
	if len(opts) > limitOptions {
		f.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
	}
	total := 0
	seen := map[string]bool{}
	subs, optional := 0, false
	for i, o := range opts {
		p := path + "." + strconv.Itoa(i)
		checkName(f, p+".name", o.Name)
		checkDescription(f, p+".description", o.Description)
		if seen[o.Name] {
			f.add(p+".name", "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option names must be unique")
		}
		seen[o.Name] = true
		total += len([]rune(o.Name)) + len([]rune(o.Description))
		switch o.Type {
		case optSubCommandGroup:
			subs++
			if depth != 0 {
				f.add(p+".type", "APPLICATION_COMMAND_OPTION_TYPE_INVALID", "Sub-command groups can only be at the top level")
			}
			if len(o.Options) == 0 {
				f.add(p+".options", "BASE_TYPE_REQUIRED", "A sub-command group needs sub-commands")
			}
			for j, sub := range o.Options {
				if sub.Type != optSubCommand {
					f.add(p+".options."+strconv.Itoa(j)+".type", "APPLICATION_COMMAND_OPTION_TYPE_INVALID", "A sub-command group holds only sub-commands")
				}
			}
			total += checkOptions(f, p+".options", o.Options, depth+1)
		case optSubCommand:
			subs++
			if depth > 1 {
				f.add(p+".type", "APPLICATION_COMMAND_OPTION_TYPE_INVALID", "Sub-commands cannot nest deeper")
			}
			for j, sub := range o.Options {
				if sub.Type == optSubCommand || sub.Type == optSubCommandGroup {
					f.add(p+".options."+strconv.Itoa(j)+".type", "APPLICATION_COMMAND_OPTION_TYPE_INVALID", "Sub-commands hold only plain options")
				}
			}
			total += checkOptions(f, p+".options", o.Options, depth+1)
		case optString, optInteger, optBoolean, 6, 7, 8, 9, optNumber, optAttachment:
			if o.Required && optional {
				f.add(p+".required", "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID", "Required options must be placed before non-required options")
			}
			optional = optional || !o.Required
			total += checkValueOption(f, p, o)
		default:
			f.add(p+".type", "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}.")
		}
	}
	if subs > 0 && subs != len(opts) {
		f.add(path, "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Sub-commands and groups cannot be mixed with plain options")
	}
	return total
}

func checkValueOption(f formErrors, p string, o option) int {
	total := 0
	numeric := o.Type == optInteger || o.Type == optNumber
	if o.Autocomplete && o.Type != optString && !numeric {
		f.add(p+".autocomplete", "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_INVALID", "Autocomplete needs a string, integer or number option")
	}
	if o.Autocomplete && len(o.Choices) > 0 {
		f.add(p+".autocomplete", "APPLICATION_COMMAND_AUTOCOMPLETE_INVALID", "Autocomplete cannot be set with choices")
	}
	if len(o.Choices) > limitChoices {
		f.add(p+".choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
	}
	for _, c := range o.Choices {
		total += len([]rune(c.Name))
		if v, ok := c.Value.(string); ok {
			total += len([]rune(v))
		}
	}
	if (o.MinValue != nil || o.MaxValue != nil) && !numeric {
		f.add(p, "APPLICATION_COMMAND_OPTION_VALUE_INVALID", "min_value and max_value need a number option")
	}
	for _, v := range []*float64{o.MinValue, o.MaxValue} {
		if v != nil && (*v < -maxSafeInteger || *v > maxSafeInteger) {
			f.add(p, "NUMBER_TYPE_MAX", "Value must be within ±2^53")
		}
	}
	if o.MinValue != nil && o.MaxValue != nil && *o.MinValue > *o.MaxValue {
		f.add(p, "APPLICATION_COMMAND_OPTION_VALUE_INVALID", "min_value must not exceed max_value")
	}
	return total
}
