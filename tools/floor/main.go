// Command floor issues a batch of Kubernetes API writes with a fixed concurrency and nothing else:
// the floor that `make bench` compares the operator's propagation with (same writes, same
// concurrency, same credentials, warm keep-alive connections, HTTP/1.1 like the operator's pool).
//
// stdin, first line: {"server", "ca_file", "token", "concurrency"}; then one line per batch:
// {"requests": [{"method", "path", "body", "content_type"}]}. For each batch it answers one line
// {"elapsed_s", "status": {"201": n, ...}, "errors": [..first 5..]} on stdout after the last reply.
// Connections are opened (GET /version per worker) before it prints "ready". A request with method
// "LIST" reads every page of the collection at its path (limit 500), like an informer's first list.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"strconv"
	"sync"
	"time"
)

type config struct {
	Server      string `json:"server"`
	CAFile      string `json:"ca_file"`
	Token       string `json:"token"`
	Concurrency int    `json:"concurrency"`
}

type request struct {
	Method      string          `json:"method"`
	Path        string          `json:"path"`
	Body        json.RawMessage `json:"body"`
	ContentType string          `json:"content_type"`
}

type batch struct {
	Requests []request `json:"requests"`
}

type result struct {
	ElapsedS float64        `json:"elapsed_s"`
	Status   map[string]int `json:"status"`
	Errors   []string       `json:"errors"`
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "floor: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	line, err := in.ReadBytes('\n')
	if err != nil {
		fail("reading the configuration line: %v", err)
	}
	var cfg config
	if err := json.Unmarshal(line, &cfg); err != nil {
		fail("bad configuration: %v", err)
	}
	pem, err := os.ReadFile(cfg.CAFile)
	if err != nil {
		fail("reading the CA file: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	transport := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		MaxConnsPerHost:     cfg.Concurrency,
		MaxIdleConnsPerHost: cfg.Concurrency,
		ForceAttemptHTTP2:   false,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
		IdleConnTimeout:     5 * time.Minute,
	}
	client := &http.Client{Transport: transport, Timeout: 60 * time.Second}
	do := func(r request) (int, error) {
		req, err := http.NewRequest(r.Method, cfg.Server+r.Path, bytes.NewReader(r.Body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+cfg.Token)
		req.Header.Set("Accept", "application/json")
		if r.ContentType != "" {
			req.Header.Set("Content-Type", r.ContentType)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	// list reads every page of a collection (limit 500, following continue tokens), as an informer's
	// initial list does; it is the floor for the operator's start-up.
	list := func(path string) (int, error) {
		token := ""
		for {
			url := path + "?limit=500"
			if token != "" {
				url += "&continue=" + neturl.QueryEscape(token)
			}
			req, err := http.NewRequest("GET", cfg.Server+url, nil)
			if err != nil {
				return 0, err
			}
			req.Header.Set("Authorization", "Bearer "+cfg.Token)
			req.Header.Set("Accept", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				return 0, err
			}
			var page struct {
				Metadata struct {
					Continue string `json:"continue"`
				} `json:"metadata"`
			}
			err = json.NewDecoder(resp.Body).Decode(&page)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				return resp.StatusCode, err
			}
			if token = page.Metadata.Continue; token == "" {
				return resp.StatusCode, nil
			}
		}
	}
	var warm sync.WaitGroup
	for i := 0; i < cfg.Concurrency; i++ {
		warm.Add(1)
		go func() {
			defer warm.Done()
			if _, err := do(request{Method: "GET", Path: "/version"}); err != nil {
				fail("warming up: %v", err)
			}
		}()
	}
	warm.Wait()
	fmt.Println("ready")
	out := json.NewEncoder(os.Stdout)
	for {
		line, err := in.ReadBytes('\n')
		if err == io.EOF && len(line) == 0 {
			return
		}
		if err != nil && err != io.EOF {
			fail("reading a batch: %v", err)
		}
		var b batch
		if err := json.Unmarshal(line, &b); err != nil {
			fail("bad batch: %v", err)
		}
		res := result{Status: map[string]int{}}
		var mu sync.Mutex
		jobs := make(chan request)
		var wg sync.WaitGroup
		start := time.Now()
		for i := 0; i < cfg.Concurrency; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range jobs {
					var code int
					var err error
					if r.Method == "LIST" {
						code, err = list(r.Path)
					} else {
						code, err = do(r)
					}
					mu.Lock()
					res.Status[strconv.Itoa(code)]++
					if err != nil && len(res.Errors) < 5 {
						res.Errors = append(res.Errors, err.Error())
					}
					mu.Unlock()
				}
			}()
		}
		for _, r := range b.Requests {
			jobs <- r
		}
		close(jobs)
		wg.Wait()
		res.ElapsedS = time.Since(start).Seconds()
		if err := out.Encode(res); err != nil {
			fail("writing the result: %v", err)
		}
	}
}
