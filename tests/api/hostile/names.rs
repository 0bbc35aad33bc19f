//! Names that break listings or logs: Unicode noncharacters, forged log lines.
