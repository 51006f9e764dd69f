package healthcheck

import "time"

// heapItem is an element of a timeHeap: it gives the time it is ordered by
// and keeps its index in the heap (-1 when not in it), for heap.Remove and
// heap.Fix.
type heapItem interface {
	heapTime() time.Time
	setHeapIndex(int)
}

// timeHeap is a container/heap of items, earliest first.
type timeHeap[T heapItem] []T

func (h timeHeap[T]) Len() int           { return len(h) }
func (h timeHeap[T]) Less(i, j int) bool { return h[i].heapTime().Before(h[j].heapTime()) }
func (h timeHeap[T]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].setHeapIndex(i)
	h[j].setHeapIndex(j)
}
func (h *timeHeap[T]) Push(x any) {
	it := x.(T)
	it.setHeapIndex(len(*h))
	*h = append(*h, it)
}
func (h *timeHeap[T]) Pop() any {
	old := *h
	it := old[len(old)-1]
	var zero T
	old[len(old)-1] = zero
	*h = old[:len(old)-1]
	it.setHeapIndex(-1)
	return it
}
