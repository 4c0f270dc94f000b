package sim

import (
	"fmt"
	"net/http"
)

// Flavour is the inference server the simulator imitates where servers
// differ: how they identify themselves and what they do with a seed.
type Flavour string

const (
	// FlavourVLLM answers GET /version, and sample i of a request with n
	// and seed S equals sample 0 of a request with seed S+i: vLLM gives
	// each of the n sequences its own generator seeded S+i.
	FlavourVLLM Flavour = "vllm"
	// FlavourSGLang answers GET /get_server_info (and its newer name
	// /server_info) with its server arguments, and treats seeds as SGLang
	// does. SGLang builds the batch's sampling_seed tensor only when
	// enable_deterministic_inference is set (python/sglang/srt/sampling/
	// sampling_batch_info.py) and otherwise samples with an unseeded
	// torch.multinomial; with it, multinomial_with_seed
	// (python/sglang/srt/layers/sampler.py) hashes (seed, position), and
	// the n copies of a request share its seed, so all n samples are the
	// same text.
	FlavourSGLang Flavour = "sglang"
)

// SimVersion is the version string the simulator reports.
const SimVersion = "0.0.0-shepherd-sim"

func (o Options) validateFlavour() error {
	switch o.Flavour {
	case "", FlavourVLLM:
		if o.DeterministicInference {
			return fmt.Errorf("DeterministicInference applies to Flavour %q only", FlavourSGLang)
		}
	case FlavourSGLang:
	default:
		return fmt.Errorf("Flavour = %q: must be %q or %q", o.Flavour, FlavourVLLM, FlavourSGLang)
	}
	return nil
}

// sampleSeed returns the seed and index sample i of a request with seed
// is drawn with (see sampleRNG): vLLM's seed+i; SGLang's request seed for
// every sample with deterministic inference, no seed without.
func (s *Server) sampleSeed(seed *int64, i int) (*int64, int) {
	if s.opt.Flavour != FlavourSGLang {
		return seed, i
	}
	if !s.opt.DeterministicInference {
		return nil, i
	}
	return seed, 0
}

// serveFlavour serves the identifying endpoints of the flavour; false for
// a path it does not serve.
func (s *Server) serveFlavour(w http.ResponseWriter, r *http.Request) bool {
	switch {
	case s.opt.Flavour == FlavourSGLang && (r.URL.Path == "/get_server_info" || r.URL.Path == "/server_info"):
		if allowGet(w, r) {
			// A few of SGLang's server arguments (its ServerArgs
			// dataclass, flattened into the answer) and its version.
			writeJSON(w, http.StatusOK, map[string]any{
				"model_path": s.ModelName(), "served_model_name": s.ModelName(),
				"enable_deterministic_inference": s.opt.DeterministicInference,
				"random_seed":                    0, "version": SimVersion,
			})
		}
		return true
	case s.opt.Flavour != FlavourSGLang && r.URL.Path == "/version":
		if allowGet(w, r) {
			writeJSON(w, http.StatusOK, map[string]string{"version": SimVersion})
		}
		return true
	}
	return false
}
