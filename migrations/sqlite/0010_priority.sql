-- Priority (PRODUCT.md §7): none, or 1 (the highest) to 4. The PostgreSQL
-- migration says the same.
ALTER TABLE tasks ADD COLUMN priority INTEGER CHECK (priority BETWEEN 1 AND 4);
