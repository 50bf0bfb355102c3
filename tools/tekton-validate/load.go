package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// object is one Kubernetes object read from the input directories.
type object struct {
	File       string // file it came from
	Doc        int    // index of the YAML document inside File (0-based)
	APIVersion string
	Kind       string
	Name       string
	Namespace  string
	JSON       []byte         // the document converted to JSON
	Map        map[string]any // the same document, generic
}

// ref is how objects are named in every message: Kind/name.
func (o *object) ref() string {
	if o.Name == "" {
		// A run to start with kubectl create has only a generateName: shown as <kind>/<generateName>*.
		if g := asString(get(o.Map, "metadata", "generateName")); g != "" {
			return o.Kind + "/" + g + "*"
		}
	}
	return o.Kind + "/" + o.Name
}

// loadDirs reads every *.yaml / *.yml file below the given directories (or
// the given files), splits multi-document files and returns the objects in a
// stable order (path, then document index). Documents that are empty or have
// no kind are skipped; a `kind: List` is expanded into its items.
func loadDirs(paths []string) ([]*object, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			if ext := strings.ToLower(filepath.Ext(path)); ext == ".yaml" || ext == ".yml" {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(files)

	var objs []*object
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		docs, err := splitYAML(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for i, doc := range docs {
			js, err := yaml.YAMLToJSON(doc)
			if err != nil {
				return nil, fmt.Errorf("%s: document %d: %w", f, i+1, err)
			}
			if len(bytes.TrimSpace(js)) == 0 || string(bytes.TrimSpace(js)) == "null" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal(js, &m); err != nil {
				return nil, fmt.Errorf("%s: document %d is not a mapping: %w", f, i+1, err)
			}
			objs = append(objs, expand(f, i, m)...)
		}
	}
	return objs, nil
}

func expand(file string, doc int, m map[string]any) []*object {
	kind, _ := m["kind"].(string)
	if kind == "" {
		return nil
	}
	if strings.HasSuffix(kind, "List") {
		if items, ok := m["items"].([]any); ok {
			var out []*object
			for _, it := range items {
				if im, ok := it.(map[string]any); ok {
					out = append(out, expand(file, doc, im)...)
				}
			}
			return out
		}
	}
	js, _ := json.Marshal(m)
	o := &object{File: file, Doc: doc, Kind: kind, JSON: js, Map: m}
	o.APIVersion, _ = m["apiVersion"].(string)
	if md, ok := m["metadata"].(map[string]any); ok {
		o.Name, _ = md["name"].(string)
		o.Namespace, _ = md["namespace"].(string)
	}
	return []*object{o}
}

// splitYAML splits a multi-document YAML stream on lines that are exactly
// "---" (optionally followed by a comment or spaces).
func splitYAML(data []byte) ([][]byte, error) {
	var docs [][]byte
	var cur bytes.Buffer
	r := bufio.NewReader(bytes.NewReader(data))
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			t := bytes.TrimRight(line, " \t\r\n")
			if bytes.Equal(t, []byte("---")) || bytes.HasPrefix(t, []byte("--- ")) || bytes.HasPrefix(t, []byte("---\t")) {
				docs = append(docs, append([]byte(nil), cur.Bytes()...))
				cur.Reset()
			} else {
				cur.Write(line)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	docs = append(docs, cur.Bytes())
	return docs, nil
}
