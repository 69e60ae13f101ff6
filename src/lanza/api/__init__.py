"""The HTTP kit: the component protocol, keys and scopes, error shapes, and the app
assembly every component plugs into. Features import from here; the composition root
(``lanza.server``) puts them together."""
