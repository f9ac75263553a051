"""HTTP endpoints outside the mini-program API: operations probes, stored photos, Open311."""
