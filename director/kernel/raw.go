package kernel

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"

	"github.com/lvsd/lb/director/table"
)

// What cloudflare/ipvs lacks, over raw generic netlink: flush and the sync
// daemons.

func (h *Handle) execute(cmd uint8, data []byte, flags netlink.HeaderFlags) ([]genetlink.Message, error) {
	return h.raw.Execute(genetlink.Message{
		Header: genetlink.Header{Command: cmd, Version: genlVersion},
		Data:   data,
	}, h.family.ID, flags)
}

// Flush removes every service (ipvsadm -C).
func (h *Handle) Flush() error {
	return h.write(text("flush IPVS table"), func() error {
		_, err := h.execute(cmdFlush, nil, netlink.Request|netlink.Acknowledge)
		return err
	})
}

// Daemons lists the running sync daemons.
func (h *Handle) Daemons() ([]table.Daemon, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	msgs, err := h.execute(cmdGetDaemon, nil, netlink.Request|netlink.Dump)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list IPVS sync daemons: %w", err)
	}
	var out []table.Daemon
	for _, m := range msgs {
		ds, err := decodeDaemons(m.Data)
		if err != nil {
			return nil, fmt.Errorf("decode IPVS sync daemon: %w", err)
		}
		out = append(out, ds...)
	}
	return out, nil
}

// decodeDaemons decodes the daemon attributes of one GET_DAEMON reply.
func decodeDaemons(b []byte) ([]table.Daemon, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return nil, err
	}
	var out []table.Daemon
	for ad.Next() {
		if ad.Type() != cmdAttrDaemon {
			continue
		}
		var d table.Daemon
		ad.Nested(func(nad *netlink.AttributeDecoder) error {
			for nad.Next() {
				decodeDaemonAttr(nad, &d)
			}
			return nil
		})
		out = append(out, d)
	}
	return out, ad.Err()
}

func decodeDaemonAttr(nad *netlink.AttributeDecoder, d *table.Daemon) {
	switch nad.Type() {
	case daemonAttrState:
		d.State = table.DaemonState(nad.Uint32())
	case daemonAttrMcastIfn:
		d.Interface = nad.String()
	case daemonAttrSyncID:
		d.SyncID = nad.Uint32()
	case daemonAttrSyncMaxLen:
		d.MaxLen = nad.Uint16()
	case daemonAttrMcastGroup, daemonAttrMcastGroup6:
		if a, ok := netip.AddrFromSlice(nad.Bytes()); ok {
			d.Group = a
		}
	case daemonAttrMcastPort:
		d.Port = nad.Uint16()
	case daemonAttrMcastTTL:
		d.TTL = nad.Uint8()
	}
}

// StartDaemon starts a sync daemon (ipvsadm --start-daemon STATE
// --mcast-interface IF --syncid ID).
func (h *Handle) StartDaemon(d table.Daemon) error {
	ae := netlink.NewAttributeEncoder()
	ae.Nested(cmdAttrDaemon, func(nae *netlink.AttributeEncoder) error {
		nae.Uint32(daemonAttrState, uint32(d.State))
		nae.String(daemonAttrMcastIfn, d.Interface)
		nae.Uint32(daemonAttrSyncID, d.SyncID)
		return nil
	})
	b, err := ae.Encode()
	if err != nil {
		return fmt.Errorf("encode IPVS sync daemon: %w", err)
	}
	return h.write(text(fmt.Sprintf("start IPVS %s sync daemon on %s", d.State, d.Interface)), func() error {
		_, err := h.execute(cmdNewDaemon, b, netlink.Request|netlink.Acknowledge)
		return err
	})
}

// StopDaemon stops the sync daemon in role state.
func (h *Handle) StopDaemon(state table.DaemonState) error {
	ae := netlink.NewAttributeEncoder()
	ae.Nested(cmdAttrDaemon, func(nae *netlink.AttributeEncoder) error {
		nae.Uint32(daemonAttrState, uint32(state))
		return nil
	})
	b, err := ae.Encode()
	if err != nil {
		return fmt.Errorf("encode IPVS sync daemon: %w", err)
	}
	return h.write(text(fmt.Sprintf("stop IPVS %s sync daemon", state)), func() error {
		_, err := h.execute(cmdDelDaemon, b, netlink.Request|netlink.Acknowledge)
		return err
	})
}
