"""Pages for people who don't code: a predict form, file upload, a labelling queue, model cards.

Each deployment gets a form generated from its model's signature and reference sample,
an upload page that validates a CSV or Excel file row by row and returns predictions as
a file, and a queue of the predictions the model was least sure of for a person to
confirm or correct; each model version gets a card built from what lanza knows.
"""
