"""The store app: the staff pages of store fulfillment (sign-in, queue, pick, pack, pickup desk,
stock lookup), server-rendered, for a tablet (1280 px) or a handheld scanner (390 px).

Views parse the request, call one service or selector, render. Which store a page is for is in its
URL (``/s/<store code>/…``) and is checked against the user's assignments on every request
(``context.store_page``); the chosen store is also kept in the session for ``/``.
"""
