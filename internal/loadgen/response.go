package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ReadResponse reads one HTTP/1.x response from br and discards its body.
// It is strict where HTTP is lenient: a response it accepts is one net/http
// reads the same way (FuzzReadResponse), and anything unusual (no length,
// both a length and chunking, a repeated Content-Length, chunking in an
// HTTP/1.0 response, chunk extensions, trailers, 1xx) is an error, since
// Lend's server never sends it. head is true when the request was a HEAD.
func ReadResponse(br *bufio.Reader, head bool) (status int, keepAlive bool, err error) {
	headerBytes := 0
	line, err := readLine(br, &headerBytes)
	if err != nil {
		return 0, false, err
	}
	status, http10, err := parseStatusLine(line)
	if err != nil {
		return 0, false, err
	}
	length, chunked := int64(-1), false
	// Connection tokens are gathered over all its lines before deciding, as
	// net/http does: "close" wins wherever it appears.
	sawClose, sawKeepAlive := false, false
	for {
		line, err := readLine(br, &headerBytes)
		if err != nil {
			return 0, false, err
		}
		if len(line) == 0 {
			break
		}
		name, value, err := splitHeader(line)
		if err != nil {
			return 0, false, err
		}
		switch {
		case equalFold(name, "content-length"):
			// A repeat is refused even when it agrees in number: net/http
			// compares the text, so "5" and "05" would frame differently.
			n, err := parseLength(value)
			if err != nil || length >= 0 {
				return 0, false, fmt.Errorf("bad or repeated Content-Length %q", value)
			}
			length = n
		case equalFold(name, "transfer-encoding"):
			// HTTP/1.0 has no chunking: net/http ignores the header there and
			// reads the body to the connection's end.
			if !equalFold(value, "chunked") || chunked || http10 {
				return 0, false, fmt.Errorf("unsupported Transfer-Encoding %q", value)
			}
			chunked = true
		case equalFold(name, "connection"):
			sawClose = sawClose || hasToken(value, "close")
			sawKeepAlive = sawKeepAlive || hasToken(value, "keep-alive")
		}
	}
	keepAlive = !sawClose && (!http10 || sawKeepAlive)
	if head || status == 204 || status == 304 {
		return status, keepAlive, nil
	}
	switch {
	case chunked && length >= 0:
		return 0, false, errors.New("both Content-Length and chunked encoding")
	case chunked:
		return status, keepAlive, discardChunked(br)
	case length >= 0:
		if length > MaxResponseBodyBytes {
			return 0, false, fmt.Errorf("response body of %d bytes exceeds %d", length, MaxResponseBodyBytes)
		}
		if _, err := br.Discard(int(length)); err != nil {
			return 0, false, unexpectedEOF(err)
		}
		return status, keepAlive, nil
	}
	return 0, false, errors.New("response without Content-Length or chunked encoding")
}

// readLine returns the next line without its CRLF (a bare LF is refused),
// counting its bytes against MaxHeaderBytes. The slice is valid until the
// next read.
func readLine(br *bufio.Reader, used *int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	*used += len(line)
	if *used > MaxHeaderBytes || errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("response head exceeds %d bytes", MaxHeaderBytes)
	}
	if err != nil {
		return nil, unexpectedEOF(err)
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, errors.New("line not ended by CRLF")
	}
	line = line[:len(line)-2]
	for _, c := range line {
		if c == '\r' || c == 0 {
			return nil, errors.New("control byte in the response head")
		}
	}
	return line, nil
}

// parseStatusLine reads "HTTP/1.x NNN reason".
func parseStatusLine(line []byte) (status int, http10 bool, err error) {
	if len(line) < 12 || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return 0, false, fmt.Errorf("malformed status line %q", line)
	}
	switch string(line[:8]) {
	case "HTTP/1.1":
	case "HTTP/1.0":
		http10 = true
	default:
		return 0, false, fmt.Errorf("unsupported protocol in status line %q", line)
	}
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return 0, false, fmt.Errorf("malformed status code in %q", line)
		}
		status = status*10 + int(c-'0')
	}
	if status < 200 || status > 599 {
		return 0, false, fmt.Errorf("unsupported status %d", status)
	}
	return status, http10, nil
}

// splitHeader splits "Name: value", refusing what RFC 9110 does not allow.
func splitHeader(line []byte) (name, value []byte, err error) {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return nil, nil, fmt.Errorf("malformed header line %q", line)
	}
	name = line[:colon]
	for _, c := range name {
		if !isTokenByte(c) {
			return nil, nil, fmt.Errorf("malformed header name %q", name)
		}
	}
	value = bytes.Trim(line[colon+1:], " \t")
	for _, c := range value {
		if c < ' ' && c != '\t' || c == 0x7f {
			return nil, nil, fmt.Errorf("control byte in header %q", name)
		}
	}
	return name, value, nil
}

func isTokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0
}

// parseLength reads a decimal Content-Length of at most 18 digits.
func parseLength(v []byte) (int64, error) {
	if len(v) == 0 || len(v) > 18 {
		return 0, errors.New("bad length")
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, errors.New("bad length")
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

// discardChunked reads a chunked body without extensions or trailers. An
// extension is refused rather than skipped: net/http refuses a long one, or
// many, and Go's server never sends any.
func discardChunked(br *bufio.Reader) error {
	var total int64
	for {
		used := 0
		line, err := readLine(br, &used)
		if err != nil {
			return fmt.Errorf("chunk size: %w", err)
		}
		if len(line) == 0 || len(line) > 8 {
			return fmt.Errorf("malformed chunk size %q", line)
		}
		var n int64
		for _, c := range line {
			d, ok := hexDigit(c)
			if !ok {
				return fmt.Errorf("malformed chunk size %q", line)
			}
			n = n<<4 | int64(d)
		}
		if total += n; total > MaxResponseBodyBytes {
			return fmt.Errorf("response body exceeds %d bytes", MaxResponseBodyBytes)
		}
		if n > 0 {
			if _, err := br.Discard(int(n)); err != nil {
				return unexpectedEOF(err)
			}
		}
		var crlf [2]byte
		if _, err := io.ReadFull(br, crlf[:]); err != nil {
			return unexpectedEOF(err)
		}
		if crlf != [2]byte{'\r', '\n'} {
			return errors.New("chunk not ended by CRLF")
		}
		if n == 0 {
			return nil
		}
	}
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// hasToken says whether the comma-separated list v holds token (any case).
func hasToken(v []byte, token string) bool {
	for _, part := range bytes.Split(v, []byte(",")) {
		if equalFold(bytes.Trim(part, " \t"), token) {
			return true
		}
	}
	return false
}

func equalFold(b []byte, s string) bool { return bytes.EqualFold(b, []byte(s)) }

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
