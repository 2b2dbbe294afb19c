package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// secretLike are keys people write when they put a secret in the file.
var secretLike = regexp.MustCompile(`(?i)(token|password|secret|url)$`)

// decodeYAML decodes data into cfg and returns every problem with its path:
// unknown keys, values of the wrong type, and secrets written inline.
func decodeYAML(data []byte, cfg *Config) Problems {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Problems{{Msg: strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if len(doc.Content) == 0 {
		return nil // an empty file: defaults
	}
	var ps Problems
	walk(doc.Content[0], reflect.TypeOf(*cfg), "", &ps)
	// Decode what can be decoded even when the walk found problems, so that
	// validation reports the rest of the file's errors too. The walk has
	// already described any error this decode meets, with its path.
	if err := doc.Decode(cfg); err != nil && len(ps) == 0 {
		ps.add("", "%v", err)
	}
	return ps
}

// walk checks node against type t: every key must be a field, every leaf
// must decode into its field's type.
func walk(n *yaml.Node, t reflect.Type, path string, ps *Problems) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && t.String() != "time.Time":
		if n.Kind != yaml.MappingNode {
			if n.Tag == "!!null" {
				return
			}
			ps.add(path, "want a mapping, got %s", describe(n))
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i].Value, n.Content[i+1]
			p := join(path, key)
			f, ok := fields[key]
			if !ok {
				if secretLike.MatchString(key) {
					ps.add(p, "secrets are not read from the config file: use an environment variable or a *_file key")
				} else {
					ps.add(p, "unknown field")
				}
				continue
			}
			walk(val, f.Type, p, ps)
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		// Each value is checked like a field, so a typo inside a runbook
		// is named by its path too.
		for i := 0; i+1 < len(n.Content); i += 2 {
			walk(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), ps)
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			if n.Tag == "!!null" {
				return
			}
			ps.add(path, "want a list, got %s", describe(n))
			return
		}
		for i, c := range n.Content {
			walk(c, t.Elem(), path+"["+strconv.Itoa(i)+"]", ps)
		}
	default:
		v := reflect.New(t)
		if err := n.Decode(v.Interface()); err != nil {
			ps.add(path, "want %s, got %s", kindName(t), describe(n))
		}
	}
}

func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		out[name] = f
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

func kindName(t reflect.Type) string {
	switch {
	case t.String() == "time.Duration":
		return "a duration like 10m or 90s"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "an integer"
	}
	return "a " + t.Kind().String()
}
