package slackstandin

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// uploadPath is where files.getUploadURLExternal's upload URLs point: on
// this server, so slack-go agrees to send its token there.
const uploadPath = "/upload/"

// maxUploadBytes bounds one upload to the stand-in.
const maxUploadBytes = 64 << 20

// File is a file shared by files.completeUploadExternal.
type File struct {
	ID      string
	Name    string
	Title   string
	Channel string
	// ThreadTS is the thread it was shared in, "" for the channel.
	ThreadTS       string
	InitialComment string
	Content        []byte
	SharedAt       time.Time
}

// upload is a file between files.getUploadURLExternal and its completion.
type upload struct {
	name     string
	length   int
	content  []byte
	uploaded bool
}

// Files returns the files shared in channel, in order.
func (s *Server) Files(channel string) []File {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]File, 0, len(s.files[channel]))
	for _, f := range s.files[channel] {
		f.Content = slices.Clone(f.Content)
		out = append(out, f)
	}
	return out
}

// getUploadURLExternal: the first step of an upload.
func (s *Server) getUploadURL(w http.ResponseWriter, r *http.Request, req *request) {
	if tokenOf(r, req) == "" {
		writeJSON(w, slackError("not_authed"))
		return
	}
	name := req.get("filename")
	length, err := strconv.Atoi(req.get("length"))
	if name == "" || err != nil || length <= 0 || length > maxUploadBytes {
		writeJSON(w, slackError("invalid_arguments"))
		return
	}
	s.mu.Lock()
	id := s.newID("F")
	s.uploads[id] = &upload{name: name, length: length}
	s.mu.Unlock()
	writeJSON(w, map[string]any{"ok": true, "upload_url": s.URL() + strings.TrimPrefix(uploadPath, "/") + id, "file_id": id})
}

// receiveUpload takes the file's bytes (multipart, field "file"), which
// must be as long as announced.
func (s *Server) receiveUpload(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		http.Error(w, "not_authed", http.StatusUnauthorized)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxUploadBytes+1<<20)
	f, _, err := r.FormFile("file")
	if err != nil {
		http.Error(w, "no file: "+err.Error(), http.StatusBadRequest)
		return
	}
	defer f.Close()
	content, err := io.ReadAll(f)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := strings.TrimPrefix(r.URL.Path, uploadPath)
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.uploads[id]
	switch {
	case u == nil:
		http.Error(w, "unknown upload", http.StatusNotFound)
		return
	case len(content) != u.length:
		http.Error(w, fmt.Sprintf("announced %d bytes, received %d", u.length, len(content)), http.StatusBadRequest)
		return
	}
	u.content, u.uploaded = content, true
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "OK - %d", len(content))
}

// completeUpload handles files.completeUploadExternal: it shares the
// uploaded files in the channel or thread.
func (s *Server) completeUpload(w http.ResponseWriter, r *http.Request, req *request) {
	if tokenOf(r, req) == "" {
		writeJSON(w, slackError("not_authed"))
		return
	}
	var summaries []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(req.get("files")), &summaries); err != nil || len(summaries) == 0 {
		writeJSON(w, slackError("invalid_arguments"))
		return
	}
	channel := req.get("channel_id")
	if channel == "" {
		channel = req.get("channels")
	}
	thread := req.get("thread_ts")
	if thread != "" && channel == "" {
		writeJSON(w, slackError("invalid_arguments"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if thread != "" && s.find(channel, thread) == nil {
		writeJSON(w, slackError("thread_not_found"))
		return
	}
	out := []map[string]string{}
	for _, sum := range summaries {
		u := s.uploads[sum.ID]
		if u == nil || !u.uploaded {
			writeJSON(w, slackError("file_not_found"))
			return
		}
	}
	for _, sum := range summaries {
		u := s.uploads[sum.ID]
		delete(s.uploads, sum.ID)
		title := sum.Title
		if title == "" {
			title = u.name
		}
		if channel != "" {
			s.files[channel] = append(s.files[channel], File{
				ID: sum.ID, Name: u.name, Title: title, Channel: channel, ThreadTS: thread,
				InitialComment: req.get("initial_comment"), Content: u.content, SharedAt: time.Now(),
			})
		}
		out = append(out, map[string]string{"id": sum.ID, "title": title})
	}
	s.notify()
	writeJSON(w, map[string]any{"ok": true, "files": out})
}
