"""``{items, page, page_size, total, has_more}`` from a select or a list."""

from server.extensions import db


def page_of_query(query, args: dict, present=None) -> dict:
    result = db.paginate(query, page=args["page"], per_page=args["page_size"], error_out=False)
    items = list(result.items)
    return {
        "items": [present(item) for item in items] if present else items,
        "page": args["page"],
        "page_size": args["page_size"],
        "total": result.total,
        "has_more": result.has_next,
    }


def page_of_list(items: list, args: dict) -> dict:
    start = (args["page"] - 1) * args["page_size"]
    chunk = items[start : start + args["page_size"]]
    return {
        "items": chunk,
        "page": args["page"],
        "page_size": args["page_size"],
        "total": len(items),
        "has_more": start + len(chunk) < len(items),
    }
