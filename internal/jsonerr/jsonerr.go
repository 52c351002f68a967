// Package jsonerr turns encoding/json's errors into messages for people.
// encoding/json names Go types ("cannot unmarshal number into Go struct
// field bundleJSON.mediaType of type string"); a user wants the JSON
// field, what it should hold and where.
package jsonerr

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// Clean rewrites a decoding error; other errors pass unchanged.
func Clean(err error) error {
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "the document"
		} else {
			field = "field " + field
		}
		return fmt.Errorf("%s holds a JSON %s where %s belongs (at byte %d)", field, te.Value, kind(te.Type), te.Offset)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at byte %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: "))
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: ") {
		return errors.New("invalid JSON: " + strings.TrimPrefix(msg, "json: "))
	}
	return err
}

// kind names a Go type as the JSON it decodes from.
func kind(t reflect.Type) string {
	if t == nil {
		return "another value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "another value"
}
