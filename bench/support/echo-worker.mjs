/** A piscina worker that does nothing: what a round trip through the pool costs by itself. */
export default function echo(message) {
  return message
}
