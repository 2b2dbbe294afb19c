package escalation

import (
	"errors"
	"fmt"
	"testing"
)

// A failed tick's log line names the incidents whose reminders failed.
func TestIncidentFields(t *testing.T) {
	one := &reminderError{incident: 7, err: errors.New("db")}
	if f := incidentFields(fmt.Errorf("tick: %w", errors.Join(one))); len(f) != 1 || f[0].Key != "incident" || f[0].Integer != 7 {
		t.Fatalf("one: %+v", f)
	}
	var errs []error
	for i := range 30 {
		errs = append(errs, &reminderError{incident: int64(i), err: errors.New("db")})
	}
	if f := incidentFields(errors.Join(errs...)); len(f) != 1 || f[0].Key != "incidents" {
		t.Fatalf("many: %+v", f)
	}
	if f := incidentFields(errors.New("due reminders: db")); f != nil {
		t.Fatalf("a tick's failure: %+v", f)
	}
}
