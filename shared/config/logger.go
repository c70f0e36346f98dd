package config

import (
	"io"
	"log/slog"
)

// NewLogger is the function's JSON logger: one object per line, durations
// as Go duration strings ("2s", "1m30s") rather than nanoseconds, which
// nobody reading a log line can take in. Every runtime builds its logger
// here; a nil level is info.
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: durationAsText}))
}

func durationAsText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
