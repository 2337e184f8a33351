package passes

import (
	"fmt"
	"strconv"
	"strings"
)

// OptionKind is the type of a pass option.
type OptionKind int

// Option kinds. A Bool option may be written bare (`fuse{requant}`); a
// List option takes comma-separated names (`keep=conv1,conv2`): inside the
// braces, a bare word that is not an option of the pass continues the list
// before it.
const (
	String OptionKind = iota
	Int
	Float
	Bool
	List
)

// OptionDef declares one option of a pass.
type OptionDef struct {
	Name    string
	Kind    OptionKind
	Default string
	Values  []string // allowed values of a String option (a prefix up to ':' is matched), empty: any
	Doc     string
}

// Options are a pass's option values, defaults filled in.
type Options struct {
	pass string
	vals map[string]string
}

// String returns a String option.
func (o Options) String(name string) string { return o.vals[name] }

// Bool returns a Bool option.
func (o Options) Bool(name string) bool { return o.vals[name] == "true" }

// Int returns an Int option.
func (o Options) Int(name string) int { n, _ := strconv.Atoi(o.vals[name]); return n }

// Float returns a Float option.
func (o Options) Float(name string) float64 { f, _ := strconv.ParseFloat(o.vals[name], 64); return f }

// List returns a List option.
func (o Options) List(name string) []string {
	if o.vals[name] == "" {
		return nil
	}
	return strings.Split(o.vals[name], ",")
}

// Step is one configured pass of a pipeline.
type Step struct {
	Pass *Pass
	Opts Options
	Spec string // the step as written, canonical: name{k=v,...} (set options only)
	run  Func
}

// Pipeline is an ordered list of configured passes.
type Pipeline struct {
	Steps []*Step
}

// Parse builds a pipeline from a spec such as
// `canonicalize,quantize{w=int8,a=int8,calib=percentile:99.99},fuse`,
// checking pass names, options and ordering constraints.
func Parse(spec string) (*Pipeline, error) {
	items, err := splitSpec(spec)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("empty pipeline (passes: %s)", knownPasses())
	}
	pl := &Pipeline{}
	for _, it := range items {
		st, err := newStep(it.name, it.opts)
		if err != nil {
			return nil, err
		}
		pl.Steps = append(pl.Steps, st)
	}
	if err := pl.checkOrder(); err != nil {
		return nil, err
	}
	return pl, nil
}

type specItem struct {
	name string
	opts []string // raw "k=v" or bare words, in order
}

// splitSpec splits at top-level commas; braces hold the options.
func splitSpec(spec string) ([]specItem, error) {
	var items []specItem
	s := strings.TrimSpace(spec)
	for len(s) > 0 {
		i := strings.IndexAny(s, ",{}")
		if i < 0 {
			i = len(s)
		}
		name := strings.TrimSpace(s[:i])
		if name == "" {
			return nil, fmt.Errorf("pipeline %q: missing pass name at offset %d", spec, len(spec)-len(s))
		}
		it := specItem{name: name}
		s = s[i:]
		if strings.HasPrefix(s, "}") {
			return nil, fmt.Errorf("pipeline %q: unbalanced '}' after %s", spec, name)
		}
		if strings.HasPrefix(s, "{") {
			end := strings.IndexByte(s, '}')
			if end < 0 {
				return nil, fmt.Errorf("pipeline %q: '{' after %s is not closed", spec, name)
			}
			body := s[1:end]
			if strings.ContainsAny(body, "{") {
				return nil, fmt.Errorf("pipeline %q: nested '{' in the options of %s", spec, name)
			}
			for _, o := range strings.Split(body, ",") {
				if o = strings.TrimSpace(o); o != "" {
					it.opts = append(it.opts, o)
				}
			}
			s = strings.TrimSpace(s[end+1:])
		}
		items = append(items, it)
		if s == "" {
			break
		}
		if s[0] != ',' {
			return nil, fmt.Errorf("pipeline %q: want ',' after %s, got %q", spec, name, s)
		}
		s = strings.TrimSpace(s[1:])
		if s == "" {
			return nil, fmt.Errorf("pipeline %q: trailing ','", spec)
		}
	}
	return items, nil
}

// NewStep configures one pass from "k=v" / bare-word options.
func newStep(name string, raw []string) (*Step, error) {
	p := Lookup(name)
	if p == nil {
		return nil, fmt.Errorf("unknown pass %q (passes: %s)", name, knownPasses())
	}
	o := Options{pass: name, vals: map[string]string{}}
	set := map[string]bool{}
	var order []string
	last := ""
	for _, r := range raw {
		k, v, hasEq := strings.Cut(r, "=")
		k = strings.TrimSpace(k)
		d := p.option(k)
		if !hasEq && d == nil && last != "" && p.option(last).Kind == List {
			o.vals[last] += "," + k // keep=a,b,c
			continue
		}
		if d == nil {
			return nil, fmt.Errorf("pass %s: unknown option %q (options: %s)", name, k, p.optionNames())
		}
		if !hasEq {
			if d.Kind != Bool {
				return nil, fmt.Errorf("pass %s: option %s needs a value (%s=...)", name, k, k)
			}
			v = "true"
		}
		v = strings.TrimSpace(v)
		if err := d.check(v); err != nil {
			return nil, fmt.Errorf("pass %s: option %s: %v", name, k, err)
		}
		if set[k] {
			return nil, fmt.Errorf("pass %s: option %s given twice", name, k)
		}
		set[k] = true
		order = append(order, k)
		o.vals[k] = v
		last = k
	}
	for _, d := range p.Options {
		if !set[d.Name] {
			o.vals[d.Name] = d.Default
		}
	}
	spec := name
	if len(order) > 0 {
		var kv []string
		for _, k := range order {
			kv = append(kv, k+"="+o.vals[k])
		}
		spec += "{" + strings.Join(kv, ",") + "}"
	}
	run, err := p.New(o)
	if err != nil {
		return nil, fmt.Errorf("pass %s: %v", name, err)
	}
	return &Step{Pass: p, Opts: o, Spec: spec, run: run}, nil
}

func (p *Pass) option(name string) *OptionDef {
	for i := range p.Options {
		if p.Options[i].Name == name {
			return &p.Options[i]
		}
	}
	return nil
}

func (p *Pass) optionNames() string {
	if len(p.Options) == 0 {
		return "none"
	}
	var s []string
	for _, d := range p.Options {
		s = append(s, d.Name)
	}
	return strings.Join(s, ", ")
}

func (d *OptionDef) check(v string) error {
	switch d.Kind {
	case Int:
		if _, err := strconv.Atoi(v); err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
	case Float:
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
	case Bool:
		if v != "true" && v != "false" {
			return fmt.Errorf("%q is not true or false", v)
		}
	case String:
		if len(d.Values) == 0 {
			return nil
		}
		head, _, _ := strings.Cut(v, ":")
		for _, a := range d.Values {
			if a == v || a == head || strings.TrimSuffix(a, ":P") == head {
				return nil
			}
		}
		return fmt.Errorf("%q (want one of %s)", v, strings.Join(d.Values, ", "))
	}
	return nil
}

// checkOrder enforces the declared After / Before constraints.
func (pl *Pipeline) checkOrder() error {
	pos := map[string][]int{}
	for i, s := range pl.Steps {
		pos[s.Pass.Name] = append(pos[s.Pass.Name], i)
	}
	for i, s := range pl.Steps {
		for _, a := range s.Pass.After {
			for _, j := range pos[a] {
				if j > i {
					return fmt.Errorf("pipeline: %s must run after %s (step %d is %s, step %d is %s)", s.Pass.Name, a, i+1, s.Pass.Name, j+1, a)
				}
			}
		}
		for _, b := range s.Pass.Before {
			for _, j := range pos[b] {
				if j < i {
					return fmt.Errorf("pipeline: %s must run before %s (step %d is %s, step %d is %s)", s.Pass.Name, b, i+1, s.Pass.Name, j+1, b)
				}
			}
		}
	}
	return nil
}

// String is the canonical spec of the pipeline.
func (pl *Pipeline) String() string {
	var s []string
	for _, st := range pl.Steps {
		s = append(s, st.Spec)
	}
	return strings.Join(s, ",")
}
