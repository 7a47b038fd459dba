// Command pause is the sandbox process of every Pod on replicheck's local nodes (the role of the
// upstream "pause" image, which cannot be pulled here): it holds the Pod's namespaces, reaps the
// orphans re-parented to it, and exits on SIGINT or SIGTERM. Standard library only.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
