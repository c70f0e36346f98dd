package config

import (
	"reflect"
	"strconv"
	"strings"
	"time"
)

// read sets every field of c from its STOPPER_* variable, or from its
// default when the variable is unset, reading each value as
// github.com/kelseyhightower/envconfig v1.4.0 does (a test holds the two to
// the same result). The function used to call that library; it now reads the
// values itself because checkEnvironment already parses every one of them,
// and the library's regexp and text/template dependencies were a fifth of
// the size budget (docs/performance.md). Only prefixed names are read: the
// library's fallback to a name without the prefix is not kept.
//
// lookup is os.LookupEnv. Values reach here checked (checkEnvironment), so
// a parse cannot fail; a value that does anyway is ignored, leaving the zero
// value, and Validate's checks still run on it.
func read(c *Config, lookup func(string) (string, bool)) {
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("envconfig")
		if tag == "" {
			continue
		}
		value, ok := lookup(Prefix + "_" + tag)
		if !ok {
			value, ok = f.Tag.Lookup("default")
		}
		if ok {
			setField(v.Field(i), value)
		}
	}
}

// setField stores value, read in its field's kind, into field.
func setField(field reflect.Value, value string) {
	switch kindOf(field.Type()) {
	case kindText:
		field.SetString(value)
	case kindDuration:
		if d, err := time.ParseDuration(value); err == nil {
			field.SetInt(int64(d))
		}
	case kindBool:
		if b, err := strconv.ParseBool(value); err == nil {
			field.SetBool(b)
		}
	case kindInt:
		// Base 0, as the library reads integers; checkEnvironment refused
		// the octal and hexadecimal forms already.
		if n, err := strconv.ParseInt(value, 0, field.Type().Bits()); err == nil {
			field.SetInt(n)
		}
	case kindList:
		list := []string{}
		if strings.TrimSpace(value) != "" {
			list = strings.Split(value, ",")
		}
		field.Set(reflect.ValueOf(list))
	case kindPairs:
		pairs := map[string]string{}
		if strings.TrimSpace(value) != "" {
			for _, pair := range strings.Split(value, ",") {
				k, v, _ := strings.Cut(pair, ":")
				pairs[k] = v
			}
		}
		field.Set(reflect.ValueOf(pairs))
	}
}
