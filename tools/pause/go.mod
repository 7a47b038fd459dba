module replicheck.local/pause

go 1.26
