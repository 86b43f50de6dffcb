"""Sphinx extension: the Colab launch button of a chapter opens its plain-Markdown copy.

Jupyter Book points the button at ``notebooks/<chapter>.ipynb``, whose MyST (citations,
equation labels, exercise blocks) Colab shows as raw text.  The copies in
``notebooks/colab/`` (book/tools/make_colab.py) have the same code in plain Markdown.
"""


def point_colab_at_the_copies(app, pagename, templatename, context, doctree):
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []):
            if button.get("text") == "Colab" and "/notebooks/colab/" not in button.get("url", ""):
                button["url"] = button["url"].replace("/notebooks/", "/notebooks/colab/", 1)


def setup(app):
    # after sphinx-book-theme's add_launch_buttons (priority 501)
    app.connect("html-page-context", point_colab_at_the_copies, priority=502)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
