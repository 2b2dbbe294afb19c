package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The audit key comes from the environment or the file it names, with the
// store settings (so audit verify reads it too), and never from the YAML.
func TestAuditKey(t *testing.T) {
	key := strings.Repeat("ab", 32)
	dir := t.TempDir()
	file := filepath.Join(dir, "audit.key")
	if err := os.WriteFile(file, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yamlKey := filepath.Join(dir, "key.yaml")
	if err := os.WriteFile(yamlKey, []byte("audit_key: "+key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		env     map[string]string
		want    Secret
		wantErr string
	}{
		{"none", "", nil, "", ""},
		{"environment", "", map[string]string{EnvAuditKey: " " + key + " "}, Secret(key), ""},
		{"file", "", map[string]string{EnvAuditKeyFile: file}, Secret(key), ""},
		{"both", "", map[string]string{EnvAuditKey: key, EnvAuditKeyFile: file}, "", "CHATOPS_AUDIT_KEY: set CHATOPS_AUDIT_KEY or CHATOPS_AUDIT_KEY_FILE, not both"},
		{"short", "", map[string]string{EnvAuditKey: key[:31]}, "", "CHATOPS_AUDIT_KEY: audit key: 31 bytes, want at least 32"},
		{"missing file", "", map[string]string{EnvAuditKeyFile: filepath.Join(dir, "absent")}, "", "CHATOPS_AUDIT_KEY_FILE: open "},
		{"in the YAML", yamlKey, nil, "", "audit_key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := LoadStore(tc.path, env(tc.env))
			if tc.wantErr == "" {
				if err != nil || cfg.AuditKey != tc.want {
					t.Fatalf("LoadStore = %q, %v; want %q", cfg.AuditKey.Reveal(), err, tc.want.Reveal())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("LoadStore = %v; want %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), key[:31]) {
				t.Fatalf("the error shows the key: %v", err)
			}
		})
	}
}
