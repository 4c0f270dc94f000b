package metrics

import (
	"net/url"
	"strings"
)

// BackendLabel is the default value of the backend label for an inference
// server's base URL: its host:port ("gpu-1:8000"), short and stable across
// restarts and path changes. A URL without a host is used as it is.
func BackendLabel(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return baseURL
	}
	return u.Host
}

// NameBackend makes name the backend label of the base URL baseURL in
// every metric, instead of its host:port: a name the user gave
// (--backend name=URL), or "sim" for the built-in simulator, whose port
// changes on every start.
func (m *Metrics) NameBackend(baseURL, name string) {
	m.backendMu.Lock()
	defer m.backendMu.Unlock()
	if m.backendNames == nil {
		m.backendNames = map[string]string{}
	}
	m.backendNames[baseURL] = name
}

// backend returns the backend label of a base URL.
func (m *Metrics) backend(baseURL string) string {
	m.backendMu.RLock()
	name, ok := m.backendNames[baseURL]
	m.backendMu.RUnlock()
	if ok {
		return name
	}
	return BackendLabel(strings.TrimSpace(baseURL))
}

// NameBackend on the observer lets code that only holds the
// rollout.Observer name backends (see Metrics.NameBackend).
func (o observer) NameBackend(baseURL, name string) { o.m.NameBackend(baseURL, name) }
