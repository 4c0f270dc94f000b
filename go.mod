module github.com/shepherd-prm/shepherd

go 1.26

require github.com/peterbourgon/ff/v3 v3.4.0
