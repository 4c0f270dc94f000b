package prm

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/shepherd-prm/shepherd/rollout/openai"
)

// The wire format of vLLM's pooling API (POST /pooling), spoken by the
// client and by the simulator in prmsim.

// PoolingRequest is the body of POST /pooling for text input.
type PoolingRequest struct {
	Model string       `json:"model"`
	Input PoolingInput `json:"input"`
}

// PoolingInput is the "input" field: one text is sent as a JSON string,
// several as a list of strings (vLLM accepts both).
type PoolingInput []string

// MarshalJSON writes a single text as a string, several as a list.
func (in PoolingInput) MarshalJSON() ([]byte, error) {
	if len(in) == 1 {
		return json.Marshal(in[0])
	}
	return json.Marshal([]string(in))
}

// UnmarshalJSON accepts a string or a list of strings.
func (in *PoolingInput) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*in = PoolingInput{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New(`"input" must be a string or a list of strings`)
	}
	*in = list
	return nil
}

// PoolingResponse is the body of a successful POST /pooling:
//
//	{"id": "pool-…", "object": "list", "created": 1730000000, "model": "…",
//	 "data": [{"index": 0, "object": "pooling", "data": [[0.93, 0.07], …]}],
//	 "usage": {"prompt_tokens": 412, "total_tokens": 412, "completion_tokens": 0}}
//
// data[i] answers input i; its own "data" is, for a reward model served
// with step pooling, one row of class probabilities per step tag.
type PoolingResponse struct {
	ID      string        `json:"id"`
	Object  string        `json:"object"`
	Created int64         `json:"created"`
	Model   string        `json:"model"`
	Data    []PoolingData `json:"data"`
	Usage   openai.Usage  `json:"usage"`
}

// PoolingData is the output for one input. Data is kept raw: vLLM sends a
// list of rows ([[…], …]), a flat vector ([…]) or, with encoding_format
// base64, a string; only the first is a per-step output.
type PoolingData struct {
	Index  int             `json:"index"`
	Object string          `json:"object"`
	Data   json.RawMessage `json:"data"`
}
