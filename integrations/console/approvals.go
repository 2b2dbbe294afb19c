package console

import (
	"context"
	"net/http"
	"strconv"

	"github.com/bakewise/chatops/bot"
)

// pendingShown bounds the pending requests the page lists: they expire
// within minutes, so more than this many means something else is wrong.
const pendingShown = 100

type approvalsData struct {
	Pending []bot.Approval
	History []bot.Approval
	First   string
	Next    string
}

func (c *Console) approvalsPage(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), pageTimeout)
	defer cancel()
	before, err := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	if r.URL.Query().Get("before") != "" && (err != nil || before <= 0) {
		c.fail(w, r, http.StatusBadRequest, "The page asked for makes no sense.")
		return
	}
	var d approvalsData
	if d.Pending, err = c.store.ApprovalList(ctx, bot.ApprovalQuery{Pending: true, Limit: pendingShown}); err != nil {
		c.storeFailed(w, r, "approval", err)
		return
	}
	if d.History, err = c.store.ApprovalList(ctx, bot.ApprovalQuery{Before: before, Limit: c.cfg.PageSize}); err != nil {
		c.storeFailed(w, r, "approval", err)
		return
	}
	if before > 0 {
		d.First = "/ui/approvals"
	}
	if len(d.History) == c.cfg.PageSize {
		d.Next = "/ui/approvals?before=" + strconv.FormatInt(d.History[len(d.History)-1].ID, 10)
	}
	p := c.newPage(r, "approvals", "Approvals", d)
	p.Live = true
	c.render(w, http.StatusOK, "approvals", p)
}
