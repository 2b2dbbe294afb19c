package slackstandin

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Slack's documented limits, counted in characters as Slack counts them.
// A message beyond them is refused here as Slack refuses it, so a renderer
// that would be rejected in production fails its tests.
const (
	limitText           = 40000
	limitBlocks         = 50
	limitHeaderText     = 150
	limitTextObject     = 3000
	limitSectionFields  = 10
	limitFieldText      = 2000
	limitContextElems   = 10
	limitActionElements = 25
	limitButtonText     = 75
	limitActionID       = 255
)

// blockProblem is why a message's blocks are invalid.
type blockProblem struct{ msg string }

func (p *blockProblem) Error() string { return p.msg }

func problemf(format string, args ...any) error {
	return &blockProblem{fmt.Sprintf(format, args...)}
}

// checkBlocks validates a blocks array (top level or in an attachment)
// and returns how many blocks it holds.
func checkBlocks(raw json.RawMessage, where string) (int, error) {
	var blocks []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return 0, problemf("%s: not an array of blocks: %v", where, err)
	}
	for i, b := range blocks {
		at := fmt.Sprintf("%s[%d]", where, i)
		var typ string
		_ = json.Unmarshal(b["type"], &typ)
		switch typ {
		case "":
			return 0, problemf("%s: block without a type", at)
		case "header":
			if err := checkText(b["text"], at+".text", limitHeaderText, "plain_text"); err != nil {
				return 0, err
			}
		case "section":
			if b["text"] == nil && b["fields"] == nil {
				return 0, problemf("%s: section needs text or fields", at)
			}
			if b["text"] != nil {
				if err := checkText(b["text"], at+".text", limitTextObject, ""); err != nil {
					return 0, err
				}
			}
			if b["fields"] != nil {
				var fields []json.RawMessage
				if err := json.Unmarshal(b["fields"], &fields); err != nil {
					return 0, problemf("%s.fields: %v", at, err)
				}
				if len(fields) > limitSectionFields {
					return 0, problemf("%s.fields: %d fields, at most %d", at, len(fields), limitSectionFields)
				}
				for j, f := range fields {
					if err := checkText(f, fmt.Sprintf("%s.fields[%d]", at, j), limitFieldText, ""); err != nil {
						return 0, err
					}
				}
			}
		case "context":
			var els []json.RawMessage
			if err := json.Unmarshal(b["elements"], &els); err != nil || len(els) == 0 {
				return 0, problemf("%s.elements: want 1 to %d elements", at, limitContextElems)
			}
			if len(els) > limitContextElems {
				return 0, problemf("%s.elements: %d elements, at most %d", at, len(els), limitContextElems)
			}
			for j, e := range els {
				var el struct{ Type string }
				_ = json.Unmarshal(e, &el)
				if el.Type == "plain_text" || el.Type == "mrkdwn" {
					if err := checkText(e, fmt.Sprintf("%s.elements[%d]", at, j), limitTextObject, ""); err != nil {
						return 0, err
					}
				}
			}
		case "actions":
			var els []struct {
				Type     string          `json:"type"`
				ActionID string          `json:"action_id"`
				Text     json.RawMessage `json:"text"`
			}
			if err := json.Unmarshal(b["elements"], &els); err != nil || len(els) == 0 {
				return 0, problemf("%s.elements: want 1 to %d elements", at, limitActionElements)
			}
			if len(els) > limitActionElements {
				return 0, problemf("%s.elements: %d elements, at most %d", at, len(els), limitActionElements)
			}
			ids := map[string]bool{}
			for j, e := range els {
				eat := fmt.Sprintf("%s.elements[%d]", at, j)
				if utf8.RuneCountInString(e.ActionID) > limitActionID {
					return 0, problemf("%s.action_id: longer than %d", eat, limitActionID)
				}
				if e.ActionID != "" && ids[e.ActionID] {
					return 0, problemf("%s.action_id: %q repeated in the block", eat, e.ActionID)
				}
				ids[e.ActionID] = true
				if e.Type == "button" {
					if err := checkText(e.Text, eat+".text", limitButtonText, "plain_text"); err != nil {
						return 0, err
					}
				}
			}
		}
	}
	return len(blocks), nil
}

// checkText validates a text object: a known type (or want), 1 to max
// characters.
func checkText(raw json.RawMessage, at string, max int, want string) error {
	var t struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return problemf("%s: not a text object: %v", at, err)
	}
	if t.Type != "plain_text" && t.Type != "mrkdwn" {
		return problemf("%s: text type %q", at, t.Type)
	}
	if want != "" && t.Type != want {
		return problemf("%s: must be %s", at, want)
	}
	n := utf8.RuneCountInString(t.Text)
	if n == 0 {
		return problemf("%s: empty text", at)
	}
	if n > max {
		return problemf("%s: %d characters, at most %d", at, n, max)
	}
	return nil
}

// checkAttachments validates attachments and returns how many blocks they
// hold.
func checkAttachments(raw json.RawMessage) (int, error) {
	var atts []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &atts); err != nil {
		return 0, problemf("attachments: not an array: %v", err)
	}
	total := 0
	for i, a := range atts {
		if a["blocks"] == nil {
			continue
		}
		n, err := checkBlocks(a["blocks"], fmt.Sprintf("attachments[%d].blocks", i))
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// checkContent validates what a post or an edit carries and returns the
// Slack error code for a problem ("" when none) with a message.
func checkContent(text string, blocks, attachments json.RawMessage) (code, msg string) {
	if utf8.RuneCountInString(text) > limitText {
		return "msg_too_long", fmt.Sprintf("text: %d characters", utf8.RuneCountInString(text))
	}
	n := 0
	if blocks != nil {
		c, err := checkBlocks(blocks, "blocks")
		if err != nil {
			return "invalid_blocks", err.Error()
		}
		n += c
	}
	if attachments != nil {
		c, err := checkAttachments(attachments)
		if err != nil {
			return "invalid_attachments", err.Error()
		}
		n += c
	}
	if n > limitBlocks {
		return "invalid_blocks", fmt.Sprintf("%d blocks, at most %d", n, limitBlocks)
	}
	return "", ""
}
