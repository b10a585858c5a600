-- Priority (PRODUCT.md §7): none, or 1 (the highest) to 4. The SQLite
-- migration says the same.
ALTER TABLE tasks ADD COLUMN priority integer CHECK (priority BETWEEN 1 AND 4);
