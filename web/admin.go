package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/apiwatch/apiwatch/config"
)

// Reloader is the part of config.Reloader the HTTP surface uses.
type Reloader interface {
	Reload() error
	CompanyFile(name string) string
	GetCompany(name string) (doc []byte, file string, err error)
	PutCompany(name string, doc []byte) (created bool, err error)
	DeleteCompany(name string) error
}

// maxCompanyDocument bounds a company document sent to the admin API.
const maxCompanyDocument = 4 << 20

func (h *Handler) routeLifecycle() {
	h.mux.HandleFunc("POST /-/reload", h.reload)
	h.mux.HandleFunc("PUT /-/reload", h.reload)
	// {name...} also matches an empty name and one with a slash, so that
	// both get the invalid-name error rather than a 404.
	h.mux.HandleFunc("GET /api/v1/companies/{name...}", h.adminGet)
	h.mux.HandleFunc("PUT /api/v1/companies/{name...}", h.adminPut)
	h.mux.HandleFunc("DELETE /api/v1/companies/{name...}", h.adminDelete)
}

// reload reloads the configuration files, as SIGHUP does, and answers with
// every problem found when the new configuration is rejected.
func (h *Handler) reload(w http.ResponseWriter, _ *http.Request) {
	if !h.opts.EnableLifecycle || h.opts.Reloader == nil {
		http.Error(w, "Lifecycle API is not enabled: start apiwatch with --web.enable-lifecycle.", http.StatusForbidden)
		return
	}
	if err := h.opts.Reloader.Reload(); err != nil {
		http.Error(w, "failed to reload the configuration, the previous one keeps running:\n"+err.Error(),
			http.StatusInternalServerError)
		return
	}
	w.Write([]byte("Configuration reloaded.\n"))
}

func (h *Handler) adminEnabled(w http.ResponseWriter) bool {
	if !h.opts.EnableAdminAPI || h.opts.Reloader == nil {
		h.writeError(w, http.StatusForbidden, "admin API is not enabled: start apiwatch with --web.enable-admin-api")
		return false
	}
	return true
}

func (h *Handler) adminGet(w http.ResponseWriter, r *http.Request) {
	if !h.adminEnabled(w) {
		return
	}
	doc, file, err := h.opts.Reloader.GetCompany(r.PathValue("name"))
	if err != nil {
		h.writeAdminError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("X-Apiwatch-Config-File", file)
	w.Write(doc)
}

func (h *Handler) adminPut(w http.ResponseWriter, r *http.Request) {
	if !h.adminEnabled(w) {
		return
	}
	doc, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCompanyDocument))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.writeError(w, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("request body larger than %d bytes", tooLarge.Limit))
			return
		}
		h.writeError(w, http.StatusBadRequest, "reading the request body: "+err.Error())
		return
	}
	name := r.PathValue("name")
	created, err := h.opts.Reloader.PutCompany(name, doc)
	if err != nil {
		h.writeAdminError(w, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	file := h.opts.Reloader.CompanyFile(name)
	h.opts.Logger.Info("Company written through the admin API", "company", name, "file", file, "created", created)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	h.encodeJSON(w, companyJSON{Company: name, File: file, Created: created})
}

// companyJSON is the body of a successful PUT /api/v1/companies/{name}.
type companyJSON struct {
	Company string `json:"company"`
	File    string `json:"file"`
	Created bool   `json:"created"`
}

func (h *Handler) adminDelete(w http.ResponseWriter, r *http.Request) {
	if !h.adminEnabled(w) {
		return
	}
	name := r.PathValue("name")
	if err := h.opts.Reloader.DeleteCompany(name); err != nil {
		h.writeAdminError(w, err)
		return
	}
	h.opts.Logger.Info("Company deleted through the admin API", "company", name,
		"file", h.opts.Reloader.CompanyFile(name))
	w.WriteHeader(http.StatusNoContent)
}

// writeAdminError maps an error of a company operation to a status: the
// problems of an invalid document are listed one per entry.
func (h *Handler) writeAdminError(w http.ResponseWriter, err error) {
	var problems config.Errors
	switch {
	case errors.As(err, &problems):
		lines := strings.Split(problems.Error(), "\n")
		h.writeError(w, http.StatusBadRequest, "invalid configuration; nothing was changed", lines...)
	case errors.Is(err, config.ErrCompanyNotFound):
		h.writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, config.ErrCompanyNotManaged):
		h.writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, config.ErrInvalidName):
		h.writeError(w, http.StatusBadRequest, err.Error())
	default:
		// Apply or the file system failed. The files were restored, unless
		// the error says that restoring failed too.
		h.opts.Logger.Error("Admin API request failed", "err", err)
		h.writeError(w, http.StatusInternalServerError, err.Error())
	}
}
