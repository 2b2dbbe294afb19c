package discordstandin

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Discord JSON error codes the stand-in answers with.
const (
	codeUnknownChannel       = 10003
	codeUnknownMessage       = 10008
	codeEmptyMessage         = 50006
	codeWrongChannelType     = 50024
	codeInvalidFormBody      = 50035
	codeInvalidJSON          = 50109
	codeThreadAlreadyCreated = 160004
)

// maxBody bounds a request body, as Discord does (far above any valid
// message); maxUploadBody bounds one that may carry files.
const (
	maxBody       = 1 << 20
	maxUploadBody = 4 * limitFileSize
)

type apiError struct {
	status  int
	code    int
	message string
	errors  map[string]any
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == gatewayPath || r.URL.Path == gatewayPath+"/" { // discordgo adds a slash
		s.gatewaySocket(w, r)
		return
	}
	rq, ok := parseRoute(r.Method, r.URL.Path)
	if !ok {
		rq, ok = parseInteractionRoute(r.Method, r.URL.Path)
	}
	if !ok {
		rq, ok = parseGuildRoute(r.Method, r.URL.Path)
	}
	if !ok {
		rq, ok = parseGatewayRoute(r.Method, r.URL.Path)
	}
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "404: Not Found", "code": 0})
		return
	}
	// Interaction callbacks and webhook messages are authorized by the
	// token in their path, as on Discord; everything else by the bot token.
	if !rq.tokenInPath && (!strings.HasPrefix(r.Header.Get("Authorization"), "Bot ") || len(r.Header.Get("Authorization")) <= len("Bot ")) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "401: Unauthorized", "code": 0})
		return
	}
	limit := int64(maxBody)
	if rq.uploads {
		limit = maxUploadBody
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"message": "Request entity too large", "code": 40005})
		return
	}
	route, channel := rq.route, rq.channel

	now := time.Now()
	s.mu.Lock()
	s.calls[route]++
	s.hits[channel] = append(s.hits[channel], now)
	s.allHits = append(s.allHits, now)
	rk := routeKey(route, channel)
	s.routeHits[rk] = append(s.routeHits[rk], now)
	down := s.down
	var f Fault
	if !down {
		f = s.takeFault(route)
	}
	if _, ok := f.(RateLimit); ok {
		s.limited[route]++
	}
	s.mu.Unlock()

	if down {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"message": "503: Service Unavailable", "code": 0})
		return
	}
	switch f := f.(type) {
	case RateLimit:
		writeRateLimited(w, f.RetryAfter, f.Global)
		return
	case ServerError:
		writeJSON(w, http.StatusInternalServerError, map[string]any{"message": "500: Internal Server Error", "code": 0})
		return
	case Status:
		writeJSON(w, f.Code, map[string]any{"message": f.Message, "code": f.APICode})
		return
	case Slow:
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-s.closing:
			t.Stop()
			return
		}
	}

	// Handle into a recorder, so that "processed, then dropped" is the
	// same processing with the answer thrown away.
	rec := httptest.NewRecorder()
	switch {
	case rq.interaction:
		s.handleInteraction(rec, r, rq, body)
	case rq.guildRoute:
		s.handleGuild(rec, rq)
	case rq.gatewayRoute:
		s.handleGatewayRoute(rec, r)
	default:
		s.handle(rec, r, route, channel, rq.msgID, body)
	}
	if _, drop := f.(DropAfterProcessing); drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler) // closes the connection without an answer
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

var (
	reMessages = regexp.MustCompile(`^` + apiPrefix + `channels/([^/]+)/messages$`)
	reMessage  = regexp.MustCompile(`^` + apiPrefix + `channels/([^/]+)/messages/([^/]+)$`)
	reThread   = regexp.MustCompile(`^` + apiPrefix + `channels/([^/]+)/messages/([^/]+)/threads$`)
)

// request is one API call as the router understood its path.
type request struct {
	route, channel, msgID string
	// The interaction side: application, interaction id and token, guild.
	app, interactionID, token, guild string
	// user is the member a guild route reads.
	user string
	// interaction routes are handled by handleInteraction, guildRoute ones
	// by handleGuild; tokenInPath ones need no bot token; uploads may
	// carry files (multipart).
	interaction, guildRoute, gatewayRoute, tokenInPath, uploads bool
}

func parseRoute(method, path string) (request, bool) {
	if m := reMessages.FindStringSubmatch(path); m != nil {
		switch method {
		case http.MethodPost:
			return request{route: RouteCreateMessage, channel: m[1], uploads: true}, true
		case http.MethodGet:
			return request{route: RouteListMessages, channel: m[1]}, true
		}
	}
	if m := reMessage.FindStringSubmatch(path); m != nil {
		switch method {
		case http.MethodPatch:
			return request{route: RouteEditMessage, channel: m[1], msgID: m[2]}, true
		case http.MethodGet:
			return request{route: RouteGetMessage, channel: m[1], msgID: m[2]}, true
		}
	}
	if m := reThread.FindStringSubmatch(path); m != nil && method == http.MethodPost {
		return request{route: RouteStartThread, channel: m[1], msgID: m[2]}, true
	}
	return request{}, false
}

// handle runs one request against the state and writes Discord's answer.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, route, channel, msgID string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if e := s.checkChannel(channel); e != nil {
		writeError(w, e)
		return
	}
	if ok, after := s.admit(w.Header(), route, channel, now); !ok {
		s.limited[route]++
		writeRateLimited(w, after, false)
		return
	}
	var e *apiError
	switch route {
	case RouteCreateMessage:
		e = s.createMessage(w, r, channel, body, now)
	case RouteEditMessage:
		e = s.editMessage(w, channel, msgID, body, now)
	case RouteGetMessage:
		e = s.getMessage(w, channel, msgID)
	case RouteListMessages:
		e = s.listMessages(w, channel, r.URL.Query())
	case RouteStartThread:
		e = s.startThread(w, channel, msgID, body, now)
	}
	if e != nil {
		writeError(w, e)
	}
}

// checkChannel answers Unknown Channel for ids Discord would not know.
func (s *Server) checkChannel(id string) *apiError {
	unknown := &apiError{status: http.StatusNotFound, code: codeUnknownChannel, message: "Unknown Channel"}
	if !isSnowflake(id) || s.deleted[id] {
		return unknown
	}
	if _, isThread := s.threads[id]; isThread {
		return nil
	}
	if _, isMessage := s.messages[id]; isMessage {
		return unknown // a message whose thread was never started
	}
	return nil
}

// messageBody is what create and edit accept.
type messageBody struct {
	Content         *string         `json:"content"`
	Embeds          json.RawMessage `json:"embeds"`
	Components      json.RawMessage `json:"components"`
	AllowedMentions json.RawMessage `json:"allowed_mentions"`
}

func decodeBody(body []byte, v any) *apiError {
	if err := json.Unmarshal(body, v); err != nil {
		return &apiError{status: http.StatusBadRequest, code: codeInvalidJSON, message: "The request body contains invalid JSON."}
	}
	return nil
}

func (s *Server) createMessage(w http.ResponseWriter, r *http.Request, channel string, body []byte, now time.Time) *apiError {
	var in messageBody
	files, e := decodeUpload(r, body, &in)
	if e != nil {
		return e
	}
	if len(files) > limitFiles {
		return formError("files", "BASE_TYPE_MAX_LENGTH", "Too many files")
	}
	m := &message{Message: Message{ChannelID: channel, Created: now, Attachments: files}}
	if in.Content != nil {
		m.Content = *in.Content
	}
	m.Embeds, m.Components, m.AllowedMentions = orEmpty(in.Embeds), orEmpty(in.Components), orNull(in.AllowedMentions)
	if e := validateMessage(m.Content, m.Embeds, m.Components, m.AllowedMentions, len(files) > 0); e != nil {
		return e
	}
	m.MentionRoles, m.MentionEveryone = mentions(m.Content, m.AllowedMentions)
	m.ID = s.nextID(now)
	s.messages[m.ID] = m
	s.byChannel[channel] = append(s.byChannel[channel], m)
	if t, ok := s.threads[channel]; ok {
		t.Archived = false // posting in an archived thread unarchives it
	}
	writeJSON(w, http.StatusOK, s.wire(m))
	return nil
}

func (s *Server) editMessage(w http.ResponseWriter, channel, id string, body []byte, now time.Time) *apiError {
	m, e := s.find(channel, id)
	if e != nil {
		return e
	}
	var in messageBody
	if e := decodeBody(body, &in); e != nil {
		return e
	}
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
	if e := validateMessage(content, embeds, components, am, false); e != nil {
		return e
	}
	m.Content, m.Embeds, m.Components, m.AllowedMentions = content, embeds, components, am
	m.Edits++
	t := now
	m.edited = &t
	writeJSON(w, http.StatusOK, s.wire(m))
	return nil
}

func (s *Server) getMessage(w http.ResponseWriter, channel, id string) *apiError {
	m, e := s.find(channel, id)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, s.wire(m))
	return nil
}

// listMessages answers as Discord does: newest first; with after, the
// limit messages right after it; with before, the limit right before it;
// otherwise the latest.
func (s *Server) listMessages(w http.ResponseWriter, channel string, q map[string][]string) *apiError {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	limit := 50
	if v := get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return formError("limit", "NUMBER_TYPE_MAX", "int value should be less than or equal to 100.")
		}
		limit = n
	}
	all := slices.Clone(s.byChannel[channel])
	sortByID(all)
	var picked []*message
	switch after, before := get("after"), get("before"); {
	case after != "":
		for _, m := range all {
			if snowflakeLess(after, m.ID) && len(picked) < limit {
				picked = append(picked, m)
			}
		}
	case before != "":
		for i := len(all) - 1; i >= 0 && len(picked) < limit; i-- {
			if snowflakeLess(all[i].ID, before) {
				picked = append([]*message{all[i]}, picked...)
			}
		}
	default:
		picked = all[max(0, len(all)-limit):]
	}
	out := make([]wireMessage, 0, len(picked))
	for i := len(picked) - 1; i >= 0; i-- {
		out = append(out, s.wire(picked[i]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type threadBody struct {
	Name                string `json:"name"`
	AutoArchiveDuration *int   `json:"auto_archive_duration"`
}

func (s *Server) startThread(w http.ResponseWriter, channel, id string, body []byte, now time.Time) *apiError {
	if _, inThread := s.threads[channel]; inThread {
		return &apiError{status: http.StatusBadRequest, code: codeWrongChannelType, message: "Cannot execute action on this channel type"}
	}
	m, e := s.find(channel, id)
	if e != nil {
		return e
	}
	var in threadBody
	if e := decodeBody(body, &in); e != nil {
		return e
	}
	if n := len([]rune(in.Name)); n < 1 || n > 100 {
		return formError("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
	}
	archive := 4320 // Discord's default for threads started from a message
	if in.AutoArchiveDuration != nil {
		archive = *in.AutoArchiveDuration
		if !slices.Contains([]int{60, 1440, 4320, 10080}, archive) {
			return formError("auto_archive_duration", "BASE_TYPE_CHOICES", "Value must be one of {60, 1440, 4320, 10080}.")
		}
	}
	if _, exists := s.threads[m.ID]; exists {
		return &apiError{status: http.StatusBadRequest, code: codeThreadAlreadyCreated, message: "A thread has already been created for this message"}
	}
	t := &Thread{ID: m.ID, Parent: channel, Name: in.Name, AutoArchive: archive}
	s.threads[m.ID] = t
	writeJSON(w, http.StatusCreated, wireThread(t, now))
	return nil
}

func (s *Server) find(channel, id string) (*message, *apiError) {
	m, ok := s.messages[id]
	if !ok || m.ChannelID != channel {
		return nil, &apiError{status: http.StatusNotFound, code: codeUnknownMessage, message: "Unknown Message"}
	}
	return m, nil
}

var roleMention = regexp.MustCompile(`<@&(\d+)>`)

// mentions works out who a new message pings: the roles in its content
// that allowed_mentions lets through, and @everyone/@here only when it
// allows "everyone". No allowed_mentions at all means Discord's default:
// everything in the content pings.
func mentions(content string, allowedJSON json.RawMessage) (roles []string, everyone bool) {
	var am *allowedMentions
	if !isNull(allowedJSON) {
		am = new(allowedMentions)
		_ = json.Unmarshal(allowedJSON, am) // validated before
	}
	for _, m := range roleMention.FindAllStringSubmatch(content, -1) {
		if am == nil || slices.Contains(am.Parse, "roles") || slices.Contains(am.Roles, m[1]) {
			if !slices.Contains(roles, m[1]) {
				roles = append(roles, m[1])
			}
		}
	}
	if strings.Contains(content, "@everyone") || strings.Contains(content, "@here") {
		everyone = am == nil || slices.Contains(am.Parse, "everyone")
	}
	return roles, everyone
}

type wireUser struct {
	ID            string `json:"id"`
	Username      string `json:"username"`
	Discriminator string `json:"discriminator"`
	Bot           bool   `json:"bot"`
}

type wireMessage struct {
	ID              string           `json:"id"`
	Type            int              `json:"type"`
	ChannelID       string           `json:"channel_id"`
	Author          wireUser         `json:"author"`
	Content         string           `json:"content"`
	Timestamp       string           `json:"timestamp"`
	EditedTimestamp *string          `json:"edited_timestamp"`
	TTS             bool             `json:"tts"`
	MentionEveryone bool             `json:"mention_everyone"`
	Mentions        []any            `json:"mentions"`
	MentionRoles    []string         `json:"mention_roles"`
	Attachments     []wireAttachment `json:"attachments"`
	Embeds          json.RawMessage  `json:"embeds"`
	Components      json.RawMessage  `json:"components"`
	Pinned          bool             `json:"pinned"`
	Flags           int              `json:"flags"`
	WebhookID       string           `json:"webhook_id,omitempty"`
	ApplicationID   string           `json:"application_id,omitempty"`
	Thread          *wireChannel     `json:"thread,omitempty"`
}

type wireThreadMetadata struct {
	Archived            bool   `json:"archived"`
	AutoArchiveDuration int    `json:"auto_archive_duration"`
	ArchiveTimestamp    string `json:"archive_timestamp"`
	Locked              bool   `json:"locked"`
}

type wireChannel struct {
	ID             string             `json:"id"`
	Type           int                `json:"type"`
	ParentID       string             `json:"parent_id"`
	Name           string             `json:"name"`
	OwnerID        string             `json:"owner_id"`
	MessageCount   int                `json:"message_count"`
	MemberCount    int                `json:"member_count"`
	ThreadMetadata wireThreadMetadata `json:"thread_metadata"`
}

const timeFormat = "2006-01-02T15:04:05.000000+00:00"

func (s *Server) wire(m *message) wireMessage {
	out := wireMessage{
		ID:              m.ID,
		ChannelID:       m.ChannelID,
		Author:          wireUser{ID: BotUserID, Username: "chatops", Discriminator: "0", Bot: true},
		Content:         m.Content,
		Timestamp:       m.Created.UTC().Format(timeFormat),
		MentionEveryone: m.MentionEveryone,
		Mentions:        []any{},
		MentionRoles:    append([]string{}, m.MentionRoles...),
		Attachments:     []wireAttachment{},
		Embeds:          m.Embeds,
		Components:      m.Components,
		Flags:           m.Flags,
	}
	for i, a := range m.Attachments {
		out.Attachments = append(out.Attachments, wireAttachment{
			ID: m.ID + strconv.Itoa(i), Filename: a.Filename, ContentType: a.ContentType, Size: len(a.Content),
			URL: "https://cdn.discordapp.com/attachments/" + m.ChannelID + "/" + m.ID + "/" + a.Filename,
		})
	}
	if m.edited != nil {
		ts := m.edited.UTC().Format(timeFormat)
		out.EditedTimestamp = &ts
	}
	if t, ok := s.threads[m.ID]; ok {
		wt := wireThread(t, m.Created)
		out.Thread = &wt
	}
	return out
}

func wireThread(t *Thread, at time.Time) wireChannel {
	return wireChannel{
		ID:          t.ID,
		Type:        11, // public thread
		ParentID:    t.Parent,
		Name:        t.Name,
		OwnerID:     BotUserID,
		MemberCount: 1,
		ThreadMetadata: wireThreadMetadata{
			Archived:            t.Archived,
			AutoArchiveDuration: t.AutoArchive,
			ArchiveTimestamp:    at.UTC().Format(timeFormat),
		},
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func writeError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"message": e.message, "code": e.code}
	if e.errors != nil {
		body["errors"] = e.errors
	}
	writeJSON(w, e.status, body)
}

func orEmpty(raw json.RawMessage) json.RawMessage {
	if isNull(raw) {
		return json.RawMessage("[]")
	}
	return raw
}

func orNull(raw json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(raw)) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

func isSnowflake(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
