package registry

import "net/http"

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	writeError(w, oerr(http.StatusNotFound, codeUnsupported, "no such endpoint"))
}
