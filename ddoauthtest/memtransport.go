package ddoauthtest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
)

// memTransport hands requests to the server's handler without a socket.
type memTransport struct{ s *Server }

func (t memTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		defer req.Body.Close()
	}
	if req.URL == nil || req.URL.Scheme != "https" || req.URL.Host == "" {
		return nil, errors.New("ddoauthtest: in-memory transport serves only absolute https URLs")
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	sreq := req.Clone(req.Context())
	sreq.Host = host
	sreq.URL = &url.URL{Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery}
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "192.0.2.1:443"
	sreq.Proto, sreq.ProtoMajor, sreq.ProtoMinor = "HTTP/1.1", 1, 1
	sreq.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true, ServerName: req.URL.Hostname()}
	sreq.Body = http.NoBody
	if req.Body != nil {
		sreq.Body = req.Body
	}
	w := &memWriter{header: http.Header{}}
	t.s.ServeHTTP(w, sreq)
	if err := req.Context().Err(); err != nil && w.status == 0 {
		return nil, err // the caller gave up before an answer
	}
	if w.hijacked {
		return nil, fmt.Errorf("ddoauthtest: connection to %s dropped: %w", host, io.ErrUnexpectedEOF)
	}
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	w.header.Set("Content-Length", strconv.Itoa(w.body.Len()))
	return &http.Response{
		Status:        strconv.Itoa(status) + " " + http.StatusText(status),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.header,
		Body:          io.NopCloser(bytes.NewReader(w.body.Bytes())),
		ContentLength: int64(w.body.Len()),
		Request:       req,
		TLS:           sreq.TLS,
	}, nil
}

// memWriter is the in-memory http.ResponseWriter. It can be hijacked,
// which drops the "connection".
type memWriter struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	hijacked bool
}

func (w *memWriter) Header() http.Header { return w.header }

func (w *memWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *memWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}

func (w *memWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.hijacked = true
	c1, c2 := net.Pipe()
	c2.Close()
	return c1, bufio.NewReadWriter(bufio.NewReader(c1), bufio.NewWriter(c1)), nil
}
