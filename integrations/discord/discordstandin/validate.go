package discordstandin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Discord's message limits, checked as Discord checks them (characters).
const (
	limitContent      = 2000
	limitEmbeds       = 10
	limitTitle        = 256
	limitDescription  = 4096
	limitFields       = 25
	limitFieldName    = 256
	limitFieldValue   = 1024
	limitFooter       = 2048
	limitAuthor       = 256
	limitEmbedTotal   = 6000
	limitRows         = 5
	limitRowChildren  = 5
	limitCustomID     = 100
	limitButtonLabel  = 80
	limitAllowedRoles = 100
)

type embed struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Fields      []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"fields"`
	Footer *struct {
		Text string `json:"text"`
	} `json:"footer"`
	Author *struct {
		Name string `json:"name"`
	} `json:"author"`
}

type component struct {
	Type       int         `json:"type"`
	Style      int         `json:"style"`
	Label      string      `json:"label"`
	CustomID   string      `json:"custom_id"`
	URL        string      `json:"url"`
	Components []component `json:"components"`
}

type allowedMentions struct {
	Parse []string `json:"parse"`
	Roles []string `json:"roles"`
	Users []string `json:"users"`
}

// formErrors collects Discord's "Invalid Form Body" details, nested by
// path as Discord nests them.
type formErrors map[string]any

func (f formErrors) add(path, code, msg string) {
	cur := map[string]any(f)
	parts := strings.Split(path, ".")
	for _, p := range parts {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	errs, _ := cur["_errors"].([]any)
	cur["_errors"] = append(errs, map[string]any{"code": code, "message": msg})
}

func formError(path, code, msg string) *apiError {
	f := formErrors{}
	f.add(path, code, msg)
	return &apiError{status: http.StatusBadRequest, code: codeInvalidFormBody, message: "Invalid Form Body", errors: f}
}

func maxLen(f formErrors, path, s string, n int) {
	if utf8.RuneCountInString(s) > n {
		f.add(path, "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", n))
	}
}

func required(f formErrors, path, s string) {
	if strings.TrimSpace(s) == "" {
		f.add(path, "BASE_TYPE_REQUIRED", "This field is required")
	}
}

// validateMessage checks a message as it would stand after the request;
// hasFiles: it carries attachments, so it may have no text.
func validateMessage(content string, embedsJSON, componentsJSON, allowedJSON json.RawMessage, hasFiles bool) *apiError {
	var (
		embeds []embed
		rows   []component
	)
	if err := json.Unmarshal(embedsJSON, &embeds); err != nil {
		return formError("embeds", "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType.")
	}
	if err := json.Unmarshal(componentsJSON, &rows); err != nil {
		return formError("components", "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType.")
	}
	if content == "" && len(embeds) == 0 && len(rows) == 0 && !hasFiles {
		return &apiError{status: http.StatusBadRequest, code: codeEmptyMessage, message: "Cannot send an empty message"}
	}
	f := formErrors{}
	maxLen(f, "content", content, limitContent)
	if len(embeds) > limitEmbeds {
		f.add("embeds", "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", limitEmbeds))
	}
	total := 0
	for i, e := range embeds {
		p := "embeds." + strconv.Itoa(i)
		maxLen(f, p+".title", e.Title, limitTitle)
		maxLen(f, p+".description", e.Description, limitDescription)
		total += utf8.RuneCountInString(e.Title) + utf8.RuneCountInString(e.Description)
		if len(e.Fields) > limitFields {
			f.add(p+".fields", "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", limitFields))
		}
		for j, fl := range e.Fields {
			fp := p + ".fields." + strconv.Itoa(j)
			required(f, fp+".name", fl.Name)
			required(f, fp+".value", fl.Value)
			maxLen(f, fp+".name", fl.Name, limitFieldName)
			maxLen(f, fp+".value", fl.Value, limitFieldValue)
			total += utf8.RuneCountInString(fl.Name) + utf8.RuneCountInString(fl.Value)
		}
		if e.Footer != nil {
			maxLen(f, p+".footer.text", e.Footer.Text, limitFooter)
			total += utf8.RuneCountInString(e.Footer.Text)
		}
		if e.Author != nil {
			maxLen(f, p+".author.name", e.Author.Name, limitAuthor)
			total += utf8.RuneCountInString(e.Author.Name)
		}
	}
	if total > limitEmbedTotal {
		f.add("embeds", "MAX_EMBED_SIZE_EXCEEDED", fmt.Sprintf("Embed size exceeds maximum size of %d", limitEmbedTotal))
	}
	validateComponents(f, rows)
	validateAllowedMentions(f, allowedJSON)
	if len(f) > 0 {
		return &apiError{status: http.StatusBadRequest, code: codeInvalidFormBody, message: "Invalid Form Body", errors: f}
	}
	return nil
}

func validateComponents(f formErrors, rows []component) {
	if len(rows) > limitRows {
		f.add("components", "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", limitRows))
	}
	seen := map[string]bool{}
	for i, row := range rows {
		p := "components." + strconv.Itoa(i)
		if row.Type != 1 {
			f.add(p+".type", "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "Top-level components must be action rows")
			continue
		}
		if len(row.Components) == 0 || len(row.Components) > limitRowChildren {
			f.add(p+".components", "BASE_TYPE_BAD_LENGTH", fmt.Sprintf("Must be between 1 and %d in length.", limitRowChildren))
		}
		for j, c := range row.Components {
			cp := p + ".components." + strconv.Itoa(j)
			if c.Type != 2 {
				continue // only buttons are checked
			}
			maxLen(f, cp+".label", c.Label, limitButtonLabel)
			if c.Style == 5 {
				required(f, cp+".url", c.URL)
				continue
			}
			if c.Style < 1 || c.Style > 5 {
				f.add(cp+".style", "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6}.")
			}
			required(f, cp+".custom_id", c.CustomID)
			maxLen(f, cp+".custom_id", c.CustomID, limitCustomID)
			if seen[c.CustomID] {
				f.add(cp+".custom_id", "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated")
			}
			seen[c.CustomID] = true
		}
	}
}

func validateAllowedMentions(f formErrors, raw json.RawMessage) {
	if isNull(raw) {
		return
	}
	var am allowedMentions
	if err := json.Unmarshal(raw, &am); err != nil {
		f.add("allowed_mentions", "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
		return
	}
	for i, p := range am.Parse {
		if !slices.Contains([]string{"roles", "users", "everyone"}, p) {
			f.add("allowed_mentions.parse."+strconv.Itoa(i), "BASE_TYPE_CHOICES", "Value must be one of ('roles', 'users', 'everyone').")
		}
	}
	if slices.Contains(am.Parse, "roles") && len(am.Roles) > 0 {
		f.add("allowed_mentions", "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE", `parse:["roles"] and roles: [ids] are mutually exclusive.`)
	}
	if slices.Contains(am.Parse, "users") && len(am.Users) > 0 {
		f.add("allowed_mentions", "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE", `parse:["users"] and users: [ids] are mutually exclusive.`)
	}
	if len(am.Roles) > limitAllowedRoles {
		f.add("allowed_mentions.roles", "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", limitAllowedRoles))
	}
	for i, r := range am.Roles {
		if !isSnowflake(r) {
			f.add("allowed_mentions.roles."+strconv.Itoa(i), "NUMBER_TYPE_COERCE", fmt.Sprintf("Value %q is not snowflake.", r))
		}
	}
}
