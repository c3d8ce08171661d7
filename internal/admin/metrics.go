package admin

import (
	"bufio"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// metrics answers GET /metrics in the Prometheus text format (0.0.4):
//
//   - every number of /stats as switchboard_<section>_<field>, a counter
//     unless its field is tagged metric:"gauge";
//   - switchboard_draining, 1 while the node shuts down;
//   - per backend, labelled with its id and address: in_flight, tunnels,
//     weight (gauges), and draining, healthy (0 or 1).
func (h *Handler) metrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	m := metricWriter{w: bw}

	m.family("switchboard_draining", "gauge", "1 while the node shuts down (/healthz answers 503).")
	m.sample("switchboard_draining", "", boolNum(h.draining != nil && h.draining()))
	if h.stats != nil {
		if v := h.stats(); v != nil {
			m.walk("switchboard", "", reflect.ValueOf(v))
		}
	}

	var list []BackendInfo
	if h.pool != nil {
		list = slices.Clone(h.pool.Backends())
	}
	slices.SortStableFunc(list, func(a, b BackendInfo) int { return strings.Compare(a.Address+a.ID, b.Address+b.ID) })
	for _, f := range []struct {
		name, typ, help string
		value           func(BackendInfo) string
	}{
		{"in_flight", "gauge", "Requests being proxied to the backend.", func(b BackendInfo) string { return strconv.FormatInt(b.InFlight, 10) }},
		{"tunnels", "gauge", "Open upgraded connections (WebSocket) to the backend.", func(b BackendInfo) string { return strconv.FormatInt(b.Tunnels, 10) }},
		{"weight", "gauge", "Balancing weight.", func(b BackendInfo) string { return strconv.Itoa(b.Weight) }},
		{"draining", "gauge", "1 while the backend drains.", func(b BackendInfo) string { return boolNum(b.Draining) }},
		{"healthy", "gauge", "0 while the backend fails its active health checks.", func(b BackendInfo) string { return boolNum(b.Healthy) }},
	} {
		name := "switchboard_backend_" + f.name
		m.family(name, f.typ, f.help)
		for _, b := range list {
			m.sample(name, `id="`+labelValue(b.ID)+`",address="`+labelValue(b.Address)+`"`, f.value(b))
		}
	}
}

// metricWriter writes the exposition format.
type metricWriter struct{ w *bufio.Writer }

func (m metricWriter) family(name, typ, help string) {
	m.w.WriteString("# HELP " + name + " " + help + "\n# TYPE " + name + " " + typ + "\n")
}

func (m metricWriter) sample(name, labels, value string) {
	m.w.WriteString(name)
	if labels != "" {
		m.w.WriteString("{" + labels + "}")
	}
	m.w.WriteString(" " + value + "\n")
}

// walk writes the numeric and boolean fields of the struct v (through
// pointers and nested structs), named by their JSON names under prefix;
// path is the same as /stats shows it (section.field).
func (m metricWriter) walk(prefix, path string, v reflect.Value) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return
	}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		full := prefix + "_" + metricName(name)
		fpath := name
		if path != "" {
			fpath = path + "." + name
		}
		fv := v.Field(i)
		var value string
		switch fv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			value = strconv.FormatInt(fv.Int(), 10)
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			value = strconv.FormatUint(fv.Uint(), 10)
		case reflect.Float32, reflect.Float64:
			value = strconv.FormatFloat(fv.Float(), 'g', -1, 64)
		case reflect.Bool:
			value = boolNum(fv.Bool())
		default:
			m.walk(full, fpath, fv)
			continue
		}
		typ := "counter"
		if f.Tag.Get("metric") == "gauge" || fv.Kind() == reflect.Bool {
			typ = "gauge"
		}
		m.family(full, typ, fpath+" in /stats.")
		m.sample(full, "", value)
	}
}

// metricName keeps [a-zA-Z0-9_] and turns anything else into '_'.
func metricName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}

// labelValue escapes a label value: backslash, double quote, newline.
func labelValue(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func boolNum(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
