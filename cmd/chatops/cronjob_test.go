package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The audit-verify component's CronJob runs this binary with its own
// command line: the args, with $(VAR) expanded from the container's env as
// the kubelet expands it, are an `audit verify` this binary runs, on the
// configuration the ConfigMap mounts there; its AUDIT_HEAD left empty
// checks the chain alone, and set to a head it also checks that head.
func TestAuditVerifyCronJob(t *testing.T) {
	const (
		cronJob = "../../deploy/kubernetes/components/audit-verify/cronjob.yaml"
		// The file the base's ConfigMap is made of, and where it is mounted.
		configFile = "../../deploy/kubernetes/base/bakery-ia.yaml"
		mounted    = "/etc/chatops/chatops.yaml"
	)
	raw, err := os.ReadFile(cronJob)
	if err != nil {
		t.Fatal(err)
	}
	var cj struct {
		Spec struct {
			JobTemplate struct {
				Spec struct {
					Template struct {
						Spec struct {
							Containers []struct {
								Command []string `yaml:"command"`
								Args    []string `yaml:"args"`
								Env     []struct {
									Name  string `yaml:"name"`
									Value string `yaml:"value"`
								} `yaml:"env"`
							} `yaml:"containers"`
						} `yaml:"spec"`
					} `yaml:"template"`
				} `yaml:"spec"`
			} `yaml:"jobTemplate"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(raw, &cj); err != nil {
		t.Fatalf("%s: %v", cronJob, err)
	}
	containers := cj.Spec.JobTemplate.Spec.Template.Spec.Containers
	if len(containers) != 1 || len(containers[0].Command) != 0 {
		t.Fatalf("%s: want one container running the image's entrypoint, got %+v", cronJob, containers)
	}
	c := containers[0]
	// args as the kubelet passes them with AUDIT_HEAD set to head.
	argsWith := func(t *testing.T, head string) []string {
		t.Helper()
		var out []string
		for _, a := range c.Args {
			for _, e := range c.Env {
				v := e.Value
				if e.Name == "AUDIT_HEAD" {
					v = head
				}
				a = strings.ReplaceAll(a, "$("+e.Name+")", v)
			}
			if strings.Contains(a, "$(") {
				t.Fatalf("%s: argument %q names a variable the container does not set", cronJob, a)
			}
			if a == mounted {
				a = configFile
			}
			out = append(out, a)
		}
		return out
	}
	if !strings.Contains(strings.Join(c.Args, " "), "$(AUDIT_HEAD)") {
		t.Fatalf("%s: args %q do not pass AUDIT_HEAD", cronJob, c.Args)
	}

	dir := auditEnv(t)
	if code, _, stderr := runCLI(t, "migrate"); code != 0 {
		t.Fatalf("migrate = %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "chatops.db")); err != nil {
		t.Fatal(err)
	}
	// The component ships AUDIT_HEAD empty.
	code, stdout, stderr := runCLI(t, argsWith(t, "")...)
	if code != 0 || !strings.Contains(stdout, "audit log verified") {
		t.Fatalf("the CronJob's command = %d %q %q, want 0 and verified", code, stdout, stderr)
	}
	// A head the log does not reach fails the run, as a failed Job.
	missing := "7:" + strings.Repeat("ab", 32)
	if code, _, stderr := runCLI(t, argsWith(t, missing)...); code != 1 {
		t.Fatalf("the CronJob's command with AUDIT_HEAD=%s on an empty log = %d %q, want 1", missing, code, stderr)
	}
	// A malformed head is a mistake on the command line, not a pass.
	if code, _, _ := runCLI(t, argsWith(t, "nonsense")...); code != 2 {
		t.Fatalf("the CronJob's command with a malformed AUDIT_HEAD = %d, want 2", code)
	}
}
