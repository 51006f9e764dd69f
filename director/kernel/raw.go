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

// IPVS generic netlink commands and attributes that cloudflare/ipvs does not
// cover (linux/ip_vs.h).
const (
	cmdNewDaemon = 9
	cmdDelDaemon = 10
	cmdGetDaemon = 11
	cmdZero      = 16
	cmdFlush     = 17

	cmdAttrDaemon = 3

	daemonAttrState       = 1
	daemonAttrMcastIfn    = 2
	daemonAttrSyncID      = 3
	daemonAttrSyncMaxLen  = 4
	daemonAttrMcastGroup  = 5
	daemonAttrMcastGroup6 = 6
	daemonAttrMcastPort   = 7
	daemonAttrMcastTTL    = 8

	genlVersion = 1
)

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

// Zero zeroes the counters of every service (ipvsadm -Z).
func (h *Handle) Zero() error {
	return h.write(text("zero IPVS counters"), func() error {
		_, err := h.execute(cmdZero, nil, netlink.Request|netlink.Acknowledge)
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
		ad, err := netlink.NewAttributeDecoder(m.Data)
		if err != nil {
			return nil, fmt.Errorf("decode IPVS sync daemon: %w", err)
		}
		for ad.Next() {
			if ad.Type() != cmdAttrDaemon {
				continue
			}
			var d table.Daemon
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					switch nad.Type() {
					case daemonAttrState:
						d.State = table.DaemonState(nad.Uint32())
					case daemonAttrMcastIfn:
						d.Interface = nad.String()
					case daemonAttrSyncID:
						d.SyncID = nad.Uint32()
					case daemonAttrSyncMaxLen:
						d.MaxLen = nad.Uint16()
					case daemonAttrMcastGroup:
						if a, ok := netip.AddrFromSlice(nad.Bytes()); ok {
							d.Group = a
						}
					case daemonAttrMcastGroup6:
						if a, ok := netip.AddrFromSlice(nad.Bytes()); ok {
							d.Group = a
						}
					case daemonAttrMcastPort:
						d.Port = nad.Uint16()
					case daemonAttrMcastTTL:
						d.TTL = nad.Uint8()
					}
				}
				return nil
			})
			out = append(out, d)
		}
		if err := ad.Err(); err != nil {
			return nil, fmt.Errorf("decode IPVS sync daemon: %w", err)
		}
	}
	return out, nil
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
