module replicheck.local/floor

go 1.26
