package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode"

	"github.com/shepherd-prm/shepherd/rollout/openai"
)

// The request bodies are the openai package's, with the fields the real
// servers accept in more than one shape (prompt, stop, message content)
// widened; the outer field shadows the embedded one when decoding.

type completionBody struct {
	openai.CompletionRequest
	Prompt promptList `json:"prompt"`
	Stop   stopList   `json:"stop"`
	Stream bool       `json:"stream"`
}

type chatBody struct {
	openai.ChatRequest
	Messages            []chatMessageIn `json:"messages"`
	Stop                stopList        `json:"stop"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Stream              bool            `json:"stream"`
}

type chatMessageIn struct {
	Role    string         `json:"role"`
	Content messageContent `json:"content"`
}

// promptList is a prompt given as a string or a list of strings.
type promptList []string

func (p *promptList) UnmarshalJSON(b []byte) error {
	l, err := stringOrList(b)
	if err != nil {
		return errors.New(`"prompt" must be a string or a list of strings (token ids are not supported)`)
	}
	*p = l
	return nil
}

// stopList is a stop given as a string or a list of strings.
type stopList []string

func (s *stopList) UnmarshalJSON(b []byte) error {
	l, err := stringOrList(b)
	if err != nil {
		return errors.New(`"stop" must be a string or a list of strings`)
	}
	*s = l
	return nil
}

func stringOrList(b []byte) ([]string, error) {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		return nil, nil
	case len(b) > 0 && b[0] == '"':
		var s string
		err := json.Unmarshal(b, &s)
		return []string{s}, err
	}
	var l []string
	err := json.Unmarshal(b, &l)
	return l, err
}

// messageContent is a message's content given as a string, null, or a list
// of content parts of which the text parts are concatenated.
type messageContent string

func (m *messageContent) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*m = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		err := json.Unmarshal(b, &s)
		*m = messageContent(s)
		return err
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(b, &parts); err != nil {
		return errors.New(`a message's "content" must be a string or a list of content parts`)
	}
	var s string
	for _, p := range parts {
		if p.Type == "text" {
			s += p.Text
		}
	}
	*m = messageContent(s)
	return nil
}

// decodeError turns a JSON decoding error into a message naming the problem
// in the client's terms.
func decodeError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON in the request body at byte %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fmt.Sprintf("the request body must be a JSON object, got a JSON %s", typ.Value)
		}
		// The path names embedded structs by their Go names
		// (CompletionRequest.Sampling.n); the client knows the JSON key.
		path := strings.Split(typ.Field, ".")
		for len(path) > 1 && path[0] != "" && unicode.IsUpper(rune(path[0][0])) {
			path = path[1:]
		}
		field := strings.Join(path, ".")
		return fmt.Sprintf("field %q must be %s, got a JSON %s", field, jsonKind(typ.Type), typ.Value)
	case err.Error() == "unexpected end of JSON input":
		return "invalid JSON in the request body: unexpected end of input"
	}
	return "invalid request body: " + err.Error()
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	}
	return "an object"
}
