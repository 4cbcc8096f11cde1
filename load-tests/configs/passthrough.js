// Pass-through Worker for the benchmark: hands every request unchanged to the
// ORIGIN binding and returns the origin's response as it is. The same file
// runs in workerd and in isoproxy.
export default {
  fetch(request, env) {
    return env.ORIGIN.fetch(request);
  },
};
