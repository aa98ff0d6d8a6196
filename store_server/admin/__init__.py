"""The shop owner's back office: server-rendered pages under /admin/ (FastAPI + Jinja2, no CDN).

Modules: accounts (passwords, sessions, lockout), audit (who did what), i18n (catalogues, money, dates),
web (rendering, sign-in and CSRF guards), customers (search, card page, privacy), journal (operations
journal), and pages (the routes). Templates and static files live beside them.
"""
