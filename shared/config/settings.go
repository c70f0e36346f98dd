package config

import (
	"reflect"
	"time"
)

// setting is one STOPPER_* variable, read from a Config field's tags.
type setting struct {
	Name    string // STOPPER_<tag>: the variable users set
	Bare    string // <tag>: what the reader falls back to when Name is unset
	Default string
	Desc    string
	Kind    kind
	Bits    int // of an integer's type
}

// kind is what form a setting's value takes.
type kind int

const (
	kindText     kind = iota // any string
	kindDuration             // a Go duration: 2h, 90m, 45s
	kindBool                 // true or false
	kindInt                  // a whole number
	kindList                 // comma-separated: a,b
	kindPairs                // comma-separated key:value pairs
	kindUnknown              // a type this package does not check (a test refuses it)
)

var durationType = reflect.TypeOf(time.Duration(0))

func kindOf(t reflect.Type) kind {
	switch {
	case t == durationType:
		return kindDuration
	case t.Kind() == reflect.String:
		return kindText
	case t.Kind() == reflect.Bool:
		return kindBool
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return kindInt
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return kindList
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && t.Elem().Kind() == reflect.String:
		return kindPairs
	}
	return kindUnknown
}

// settings are every STOPPER_* variable, in the Config struct's order: a
// new field is checked, documented and known by name with nothing else to
// change.
func settings() []setting {
	var out []setting
	t := reflect.TypeOf(Config{})
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("envconfig")
		if tag == "" {
			continue
		}
		s := setting{Name: Prefix + "_" + tag, Bare: tag, Default: f.Tag.Get("default"), Desc: f.Tag.Get("desc"), Kind: kindOf(f.Type)}
		if s.Kind == kindInt {
			s.Bits = f.Type.Bits()
		}
		out = append(out, s)
	}
	return out
}
