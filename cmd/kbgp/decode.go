package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

func newDecodeCmd() *cobra.Command {
	var (
		hexArg  string
		output  string
		as4     bool
		ebgp    bool
		addPath []string
	)
	cmd := &cobra.Command{
		Use:   "decode [--hex HEX]",
		Short: "Decode BGP messages given in hex (from --hex or stdin) and print them as text or JSON",
		Long: `Decode one or more BGP messages written in hex. Whitespace, colons and
"0x" prefixes are ignored; a message may omit its 16-byte marker. Without
--hex the hex is read from stdin. UPDATE decoding follows RFC 7606: errors
are printed with the action a receiver takes. Exit status 1 when a message
is invalid.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("--output %q: want text or json", output)
			}
			if hexArg == "" || hexArg == "-" {
				b, err := io.ReadAll(cmd.InOrStdin())
				if err != nil {
					return fmt.Errorf("reading hex from stdin: %w", err)
				}
				hexArg = string(b)
			}
			raw, err := wire.ParseHex(hexArg)
			if err != nil {
				return fmt.Errorf("--hex: %w", err)
			}
			msgs, err := wire.SplitMessages(raw)
			if err != nil && len(msgs) == 0 {
				return fmt.Errorf("--hex: %w", err)
			}
			o := &wire.Options{AS4: as4, EBGP: ebgp, ExtendedMessage: true}
			for _, s := range addPath {
				for _, f := range strings.Split(s, ",") {
					if f = strings.TrimSpace(f); f == "" {
						continue
					}
					fam, err := wire.ParseFamily(f)
					if err != nil {
						return fmt.Errorf("--addpath: %w", err)
					}
					o.AddPath = append(o.AddPath, fam)
				}
			}
			out := cmd.OutOrStdout()
			var views []*wire.MessageView
			bad := 0
			for i, b := range msgs {
				m, err := wire.DecodeMessage(b, o)
				if err != nil {
					return fmt.Errorf("message %d: %w", i+1, err)
				}
				if m.Err != nil {
					bad++
				}
				if output == "json" {
					views = append(views, m.View())
				} else {
					if i > 0 {
						fmt.Fprintln(out)
					}
					fmt.Fprint(out, m.String())
				}
			}
			if output == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				var v any = views
				if len(views) == 1 {
					v = views[0]
				}
				if err := enc.Encode(v); err != nil {
					return err
				}
			}
			if err != nil {
				return fmt.Errorf("--hex: after %d messages: %w", len(msgs), err)
			}
			if bad > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%d of %d messages have errors", bad, len(msgs))}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&hexArg, "hex", "", "the message(s) in hex; - or empty reads stdin")
	f.StringVarP(&output, "output", "o", "text", "output format: text or json")
	f.BoolVar(&as4, "as4", true, "the session negotiated 4-octet AS numbers (RFC 6793)")
	f.BoolVar(&ebgp, "ebgp", false, "decode as received from an external peer (RFC 7606 discards LOCAL_PREF, ORIGINATOR_ID, CLUSTER_LIST)")
	f.StringSliceVar(&addPath, "addpath", nil, "families whose NLRI carry ADD-PATH path IDs, e.g. ipv4-unicast,ipv6-unicast")
	return cmd
}
