package config

import (
	"bytes"
	"encoding/json"
	"fmt"

	yaml "go.yaml.in/yaml/v3"
)

// EncodeState writes a NodeState as "yaml" or "json", fields in struct
// order (what `kbgp node config` prints and the golden files hold).
func EncodeState(s *NodeState, format string) ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("node %s: encoding state: %w", s.Node, err)
	}
	switch format {
	case "json":
		return append(b, '\n'), nil
	case "yaml", "":
		return jsonToYAML(b)
	}
	return nil, fmt.Errorf("unknown output format %q: want yaml or json", format)
}

// jsonToYAML re-encodes JSON as block-style YAML, keeping key order.
func jsonToYAML(j []byte) ([]byte, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(j, &n); err != nil {
		return nil, err
	}
	var clear func(*yaml.Node)
	clear = func(n *yaml.Node) {
		n.Style &^= yaml.FlowStyle
		if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
			n.Style &^= yaml.DoubleQuotedStyle
		}
		for _, c := range n.Content {
			clear(c)
		}
	}
	clear(&n)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
