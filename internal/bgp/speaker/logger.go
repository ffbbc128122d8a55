package speaker

import "reflect"

// Logger is what the speaker logs through, with slog's key-value
// arguments; *slog.Logger satisfies it. The speaker does not import
// log/slog itself, so a program that embeds it without slog (the
// benchmark's reflector DUT) does not link slog's handlers and
// encoding/json: a static binary's pages are resident, and those were
// about 0.3 MB of it.
type Logger interface {
	Debug(msg string, args ...any)
	Info(msg string, args ...any)
	Warn(msg string, args ...any)
	Error(msg string, args ...any)
}

// discard is the default Logger: it drops everything.
type discard struct{}

func (discard) Debug(string, ...any) {}
func (discard) Info(string, ...any)  {}
func (discard) Warn(string, ...any)  {}
func (discard) Error(string, ...any) {}

// nilPointer reports whether l is a nil pointer of some type (a nil
// *slog.Logger passed as the Logger): the default applies, as for nil.
func nilPointer(l Logger) bool {
	v := reflect.ValueOf(l)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
