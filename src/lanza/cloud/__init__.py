"""Containers and Google Cloud: build contexts, Cloud Run, Vertex AI and GKE.

Every cloud step is written as files plus a shell script of exact ``gcloud``/``kubectl``
commands; a dry run prints the script, a real run executes the same script.
"""
