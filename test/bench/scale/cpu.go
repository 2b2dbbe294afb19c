package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat's CPU
// times: getconf's answer, 100 (every Linux this runs on) when it has none.
func clockTicks() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err == nil && v > 0 {
			return v
		}
	}
	return 100
}

var ticksPerSecond = clockTicks()

// cpuSeconds is the CPU time (user + system, all threads) process pid has
// used so far.
func cpuSeconds(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after its closing parenthesis, where field 3 (state) begins.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseFloat(f[11], 64) // field 14
	stime, err2 := strconv.ParseFloat(f[12], 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return (utime + stime) / ticksPerSecond, nil
}

// backends reads the CPU time of each PostgreSQL backend serving database
// db: the bot's queries run there, not in the bot, so background work
// that is cheap for the bot may still cost the database.
func backends(ctx context.Context, adminURL, db string) (map[int]float64, error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'`, db)
	if err != nil {
		return nil, err
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, err
	}
	out := map[int]float64{}
	for _, pid := range pids {
		// A backend that ended meanwhile is simply not counted.
		if s, err := cpuSeconds(int(pid)); err == nil {
			out[int(pid)] = s
		}
	}
	return out, nil
}

// backendCPU is the CPU the backends of the end reading used since the
// start reading (all of it for a backend born in between), and how many
// of the start's backends ended in between, whose last part is lost.
func backendCPU(start, end map[int]float64) (seconds float64, gone int) {
	for pid, e := range end {
		seconds += e - start[pid]
	}
	for pid := range start {
		if _, ok := end[pid]; !ok {
			gone++
		}
	}
	return seconds, gone
}
