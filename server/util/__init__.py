"""Pure helpers with no knowledge of requests or the database: coordinates, time, masking."""
