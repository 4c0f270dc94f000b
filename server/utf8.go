package server

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Invalid UTF-8 in a string field makes the protobuf decoder fail, and
// gRPC reports any decoding failure as INTERNAL, naming no field. The
// server's codec instead decodes such a request of the shepherd API with
// the invalid bytes replaced, and notes the first field that held them;
// the validation interceptor then answers INVALID_ARGUMENT naming it
// before any handler sees the request.

// badUTF8 maps a decoded request to the path of its first string field
// that was not valid UTF-8; validateRequest takes the entry out.
var badUTF8 sync.Map

// utf8Codec is gRPC's proto codec, with the above for the shepherd API.
type utf8Codec struct{ base encoding.CodecV2 }

func newUTF8Codec() utf8Codec { return utf8Codec{base: encoding.GetCodecV2(grpcproto.Name)} }

func (c utf8Codec) Name() string { return c.base.Name() }

func (c utf8Codec) Marshal(v any) (mem.BufferSlice, error) { return c.base.Marshal(v) }

func (c utf8Codec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.base.Unmarshal(data, v)
	if err == nil || !strings.Contains(err.Error(), "UTF-8") {
		return err
	}
	m, ok := v.(proto.Message)
	if !ok {
		return err
	}
	md := m.ProtoReflect().Descriptor()
	if !strings.HasPrefix(string(md.FullName()), "shepherd.") {
		return err
	}
	fixed, field := sanitizeUTF8(data.Materialize(), md, "")
	if field == "" {
		return err
	}
	if uerr := proto.Unmarshal(fixed, m); uerr != nil {
		return err
	}
	badUTF8.Store(m, field)
	return nil
}

// takeBadUTF8 returns the field of req that held invalid UTF-8, if any.
func takeBadUTF8(req any) (string, bool) {
	f, ok := badUTF8.LoadAndDelete(req)
	if !ok {
		return "", false
	}
	return f.(string), true
}

// sanitizeUTF8 returns the wire-format message b of type md with the
// invalid UTF-8 in its string fields (nested messages included) replaced
// by U+FFFD, and the path of the first field that held some
// ("problems[2].solutions[0].text"; "" if none did).
func sanitizeUTF8(b []byte, md protoreflect.MessageDescriptor, path string) ([]byte, string) {
	out := make([]byte, 0, len(b))
	first := ""
	seen := map[protowire.Number]int{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return append(out, b...), first
		}
		fd := md.Fields().ByNumber(num)
		if typ != protowire.BytesType || fd == nil || (fd.Kind() != protoreflect.StringKind && fd.Kind() != protoreflect.MessageKind) {
			m := protowire.ConsumeFieldValue(num, typ, b[n:])
			if m < 0 {
				return append(out, b...), first
			}
			out = append(out, b[:n+m]...)
			b = b[n+m:]
			continue
		}
		v, m := protowire.ConsumeBytes(b[n:])
		if m < 0 {
			return append(out, b...), first
		}
		at := fieldPath(path, fd, seen[num])
		seen[num]++
		if fd.Kind() == protoreflect.StringKind {
			if !utf8.Valid(v) {
				if first == "" {
					first = at
				}
				v = []byte(strings.ToValidUTF8(string(v), "\uFFFD"))
			}
		} else {
			var bad string
			v, bad = sanitizeUTF8(v, fd.Message(), at)
			if first == "" {
				first = bad
			}
		}
		out = protowire.AppendTag(out, num, typ)
		out = protowire.AppendBytes(out, v)
		b = b[n+m:]
	}
	return out, first
}

// fieldPath names the i-th occurrence of field fd under path, the way the
// validation errors do.
func fieldPath(path string, fd protoreflect.FieldDescriptor, i int) string {
	p := string(fd.Name())
	if path != "" {
		p = path + "." + p
	}
	if fd.IsList() {
		p += fmt.Sprintf("[%d]", i)
	}
	return p
}
