//go:build !windows

package main

func refusedOS(error) bool { return false }
