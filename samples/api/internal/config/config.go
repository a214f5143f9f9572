// Package config loads and validates the api service's JSON configuration.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// Config is the service configuration, e.g. {"greeting": "hello", "rate": 10}.
type Config struct {
	// Greeting is shown by GET /. It must be non-empty and one line.
	Greeting string `json:"greeting"`
	// Rate is the allowed request rate per second; it must be positive.
	Rate int `json:"rate"`
}

// Default returns the configuration used when no file exists; fields missing
// from a file keep these values.
func Default() Config {
	return Config{Greeting: "hello", Rate: 10}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case strings.TrimSpace(c.Greeting) == "":
		return errors.New("greeting must not be empty")
	case strings.ContainsAny(c.Greeting, "\r\n"):
		return errors.New("greeting must be a single line")
	case c.Rate <= 0:
		return fmt.Errorf("rate must be positive, got %d", c.Rate)
	}
	return nil
}

// Parse decodes and validates a configuration. Unknown fields and trailing
// data are errors; syntax errors name the line and column.
func Parse(data []byte) (Config, error) {
	c := Default()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, describe(data, dec, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Config{}, errors.New("unexpected data after the JSON object")
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Load reads the file at path. A missing file yields Default(); an invalid
// one an error (without the path, which callers add).
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Default(), nil
	}
	if err != nil {
		return Config{}, unwrapPath(err)
	}
	return Parse(data)
}

// Check validates the file at path, which must exist.
func Check(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return unwrapPath(err)
	}
	_, err = Parse(data)
	return err
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// describe adds a line:column position to JSON decoding errors.
func describe(data []byte, dec *json.Decoder, err error) error {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	case errors.Is(err, io.EOF):
		return errors.New("empty file")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("unexpected end of JSON input")
	default:
		off = dec.InputOffset()
	}
	if off < 0 || off > int64(len(data)) {
		return err
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return fmt.Errorf("line %d, column %d: %v", line, col, strings.TrimPrefix(err.Error(), "json: "))
}
